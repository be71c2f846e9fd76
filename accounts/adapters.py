"""allauth glue: new accounts get the handle they chose at sign-up."""

from __future__ import annotations

from contextlib import suppress

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError

from .services import profile_update


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        handle = form.cleaned_data.get("handle")
        if commit and handle:
            # If someone took the handle between validation and save, the generated one
            # stays; the profile page lets the user pick again.
            with suppress(ValidationError):
                profile_update(profile=user.profile, handle=handle)
        return user
