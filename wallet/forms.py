from __future__ import annotations

from django import forms

from .models import CoinPackage, LimitKind
from .money import DEFAULT_LOCALE, format_money, minor_exponent, to_major

# SpendingLimit keeps minor units in a PositiveIntegerField: 32 bits on PostgreSQL, and the
# same bound on every database so a limit saved on one saves on all.
LIMIT_MAX_MINOR = 2_147_483_647
LIMIT_TOO_HIGH = "A limit can be at most {amount}."


class RechargeForm(forms.Form):
    """A package (its id) or "custom" with a whole number of coins."""

    choice = forms.CharField(
        error_messages={"required": "Pick a package or enter a number of coins."}
    )
    custom_coins = forms.IntegerField(
        required=False,
        label="Custom amount",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, low: int, high: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.low, self.high = low, high
        self.fields["custom_coins"].widget.attrs.update(
            {"min": low, "max": high, "placeholder": f"{low:,}–{high:,} coins"}
        )
        self.fields["custom_coins"].error_messages["invalid"] = "Enter a whole number of coins."

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        data["package_obj"] = None
        if data["choice"] == "custom":
            coins = data.get("custom_coins")
            if coins is None:
                self.add_error("custom_coins", "Enter a number of coins.")
            elif not self.low <= coins <= self.high:
                self.add_error(
                    "custom_coins", f"Choose between {self.low:,} and {self.high:,} coins."
                )
            return data
        data["custom_coins"] = None
        package = None
        if data["choice"].isdigit():
            package = CoinPackage.objects.filter(pk=int(data["choice"])).first()
        if package is None:
            raise forms.ValidationError("That coin package is not available.")
        data["package_obj"] = package
        return data


class LimitsForm(forms.Form):
    """The fan's three caps, in major units of their currency (empty = no limit), shown as
    they apply in it (`initial_minor`, converted when a cap was set in another currency)."""

    def __init__(
        self,
        *args,
        currency: str,
        initial_minor: dict[str, int | None],
        locale: str = DEFAULT_LOCALE,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.currency = currency
        exponent = minor_exponent(currency)
        step = "1" if exponent == 0 else f"0.{'0' * (exponent - 1)}1"
        too_high = LIMIT_TOO_HIGH.format(amount=format_money(LIMIT_MAX_MINOR, currency, locale))
        for kind in LimitKind:
            minor = initial_minor.get(kind)
            self.fields[kind.value] = forms.DecimalField(
                label=f"{kind.label} ({currency})",
                required=False,
                min_value=0,
                max_value=to_major(LIMIT_MAX_MINOR, currency),
                decimal_places=exponent,
                max_digits=12,
                error_messages={"max_value": too_high},
                initial=to_major(minor, currency) if minor is not None else None,
                widget=forms.NumberInput(attrs={"step": step, "placeholder": "No limit"}),
            )

    def changed_minor_amounts(self) -> dict[str, int | None]:
        """The caps the fan changed, in minor units. A field left as the page showed it is
        left alone: re-saving it would cancel a raise still waiting its 24 hours, or move a
        limit the fan set in another currency into this one."""
        exponent = minor_exponent(self.currency)
        out = {}
        for kind in LimitKind:
            if kind.value not in self.changed_data:
                continue
            value = self.cleaned_data.get(kind.value)
            out[kind.value] = None if value in (None, "") else int(value.scaleb(exponent))
        return out


class SimulatedCardForm(forms.Form):
    number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "cc-number",
                "placeholder": "4242 4242 4242 4242",
            }
        ),
    )
    expiry = forms.RegexField(
        label="Expiry (MM / YY)",
        regex=r"^\s*(0[1-9]|1[0-2])\s*/\s*\d{2}\s*$",
        error_messages={"invalid": "Enter the expiry as MM / YY."},
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "12 / 34"}),
    )
    cvc = forms.RegexField(
        label="CVC",
        regex=r"^\d{3,4}$",
        error_messages={"invalid": "Enter the 3 or 4 digits on the back."},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "cc-csc", "placeholder": "123"}
        ),
    )
    name = forms.CharField(
        label="Name on card",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "cc-name"}),
    )

    def clean_number(self) -> str:
        return "".join(self.cleaned_data["number"].split())
