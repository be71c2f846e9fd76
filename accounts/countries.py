"""Countries (ISO 3166-1 alpha-2) and their currencies, from Babel's CLDR data."""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.numbers import get_territory_currencies

DEFAULT_CURRENCY = "USD"


@cache
def country_choices() -> list[tuple[str, str]]:
    names = Locale("en").territories
    codes = [code for code in names if len(code) == 2 and code.isalpha() and code != "ZZ"]
    return sorted(((code, names[code]) for code in codes), key=lambda item: item[1])


@cache
def currency_for_country(country: str) -> str:
    if not country:
        return DEFAULT_CURRENCY
    currencies = get_territory_currencies(country, tender=True)
    return currencies[0] if currencies else DEFAULT_CURRENCY


def validate_country(value: str) -> None:
    from django.core.exceptions import ValidationError

    if value and value not in dict(country_choices()):
        raise ValidationError(f"“{value}” is not an ISO 3166 country code.", code="invalid_country")
