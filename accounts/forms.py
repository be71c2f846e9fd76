from __future__ import annotations

from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    get_default_password_validators,
)
from django.utils import timezone

from .countries import country_choices
from .models import Profile
from .validators import HANDLE_HELP, normalize_handle, validate_handle


def _clean_handle(value: str, *, exclude_pk: int | None = None) -> str:
    handle = normalize_handle(value)
    validate_handle(handle)
    taken = Profile.objects.filter(handle=handle)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise forms.ValidationError("That handle is taken.", code="handle_taken")
    return handle


def password_rules() -> str:
    """The password validators' rules as one sentence. Django's help lists them one by one
    and its errors then repeat them; this says them once, the minimum read from settings."""
    minimum = next(
        (
            v.min_length
            for v in get_default_password_validators()
            if isinstance(v, MinimumLengthValidator)
        ),
        None,
    )
    rules = "not only digits, and not a common password or one like your email."
    return f"At least {minimum} characters, {rules}" if minimum else rules.capitalize()


def _words(form: forms.Form, fields: dict[str, tuple[str, str | None]]) -> None:
    """Give allauth's fields the site's labels and placeholders (None: no placeholder)."""
    for name, (label, placeholder) in fields.items():
        if name not in form.fields:
            continue
        field = form.fields[name]
        field.label = label
        field.widget.attrs.pop("placeholder", None)
        if placeholder:
            field.widget.attrs["placeholder"] = placeholder


class SignupForm(AllauthSignupForm):
    handle = forms.CharField(
        max_length=25,
        help_text=HANDLE_HELP,
        widget=forms.TextInput(attrs={"placeholder": "yourname", "autocapitalize": "none"}),
    )

    field_order = ["email", "handle", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _words(self, {
            "email": ("Email", "you@example.com"),
            "handle": ("Handle", "yourname"),
            "password1": ("Password", None),
            "password2": ("Repeat the password", None),
        })  # fmt: skip
        if "password1" in self.fields:
            self.fields["password1"].help_text = password_rules()

    def clean_handle(self) -> str:
        # A friendly early answer; the unique constraint still decides a race.
        return _clean_handle(self.cleaned_data["handle"])


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _words(self, {
            "login": ("Email", "you@example.com"),
            "password": ("Password", None),
            "remember": ("Keep me signed in", None),
        })  # fmt: skip


class ChangePasswordForm(AllauthChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _words(self, {
            "oldpassword": ("Current password", None),
            "password1": ("New password", None),
            "password2": ("Repeat the new password", None),
        })  # fmt: skip
        self.fields["password1"].help_text = password_rules()


class ResetPasswordKeyForm(AllauthResetPasswordKeyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _words(self, {
            "password1": ("New password", None),
            "password2": ("Repeat the new password", None),
        })  # fmt: skip
        self.fields["password1"].help_text = password_rules()


class ProfileForm(forms.ModelForm):
    country = forms.ChoiceField(required=False)

    class Meta:
        model = Profile
        fields = [
            "handle", "display_name", "avatar", "bio", "birth_date", "country",
            "gift_confirm_above_coins", "hide_from_rankings",
        ]  # fmt: skip
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "bio": forms.Textarea(attrs={"rows": 3}),
            "avatar": forms.ClearableFileInput(
                attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "—")] + country_choices()

    def clean_handle(self) -> str:
        return _clean_handle(self.cleaned_data["handle"], exclude_pk=self.instance.pk)

    def clean_birth_date(self):
        birth_date = self.cleaned_data.get("birth_date")
        if birth_date is None:
            return None
        today = timezone.localdate()
        if birth_date > today:
            raise forms.ValidationError("Your birth date can't be in the future.")
        if birth_date.year < today.year - 120:
            raise forms.ValidationError("Enter your real birth date.")
        return birth_date
