from __future__ import annotations

import uuid

from django import forms
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from .models import PayoutMethodKind
from .services import MAX_DIAMONDS


class PayoutRequestForm(forms.Form):
    diamonds = forms.IntegerField(
        label="Diamonds to cash out",
        min_value=1,
        max_value=MAX_DIAMONDS,
        error_messages={"invalid": "Enter a whole number of diamonds."},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "1"}),
    )
    # One key per rendered form: a double-clicked or resent request is one payout.
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())


class PayoutMethodForm(forms.Form):
    kind = forms.ChoiceField(
        label="Pay me by",
        # A Stripe method is made by connecting an account, not typed in.
        choices=[c for c in PayoutMethodKind.choices if c[0] != PayoutMethodKind.STRIPE],
        widget=forms.RadioSelect,
    )
    paypal_email = forms.EmailField(label="PayPal email", required=False)
    bank_holder = forms.CharField(label="Account holder", max_length=100, required=False)
    iban = forms.CharField(label="IBAN", max_length=42, required=False)
    bic = forms.CharField(label="BIC (optional)", max_length=11, required=False)

    def clean_iban(self) -> str:
        value = self.cleaned_data["iban"].strip()
        if not value:
            return ""
        try:
            return IBAN(value).compact
        except SchwiftyException as exc:
            raise forms.ValidationError(f"That IBAN isn't valid: {exc}") from None

    def clean_bic(self) -> str:
        value = self.cleaned_data["bic"].strip()
        if not value:
            return ""
        try:
            return str(BIC(value))
        except SchwiftyException as exc:
            raise forms.ValidationError(f"That BIC isn't valid: {exc}") from None

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        missing_email = not data.get("paypal_email") and "paypal_email" not in self.errors
        if kind == PayoutMethodKind.PAYPAL and missing_email:
            self.add_error("paypal_email", "Enter your PayPal email address.")
        if kind == PayoutMethodKind.BANK:
            if not data.get("bank_holder"):
                self.add_error("bank_holder", "Enter the account holder's name.")
            if not data.get("iban") and "iban" not in self.errors:
                self.add_error("iban", "Enter the IBAN.")
        return data
