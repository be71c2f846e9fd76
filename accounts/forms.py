from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
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


class SignupForm(AllauthSignupForm):
    handle = forms.CharField(
        max_length=25,
        help_text=HANDLE_HELP,
        widget=forms.TextInput(attrs={"placeholder": "yourname", "autocapitalize": "none"}),
    )

    field_order = ["email", "handle", "password1", "password2"]

    def clean_handle(self) -> str:
        # A friendly early answer; the unique constraint still decides a race.
        return _clean_handle(self.cleaned_data["handle"])


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
