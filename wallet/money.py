"""Money: integer minor units per ISO 4217, formatted with Babel for the viewer's locale."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision

DEFAULT_LOCALE = "en_US"

# Stripe's zero-decimal currencies (amounts sent in whole units). Every currency we price in
# must agree with Babel's ISO 4217 exponent; a test checks it.
STRIPE_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)


def minor_exponent(currency: str) -> int:
    return get_currency_precision(currency.upper())


def to_major(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-minor_exponent(currency))


@cache
def locale_for_country(country: str, language: str = "en") -> str:
    """The locale to format money for someone in `country`: the language's own variant for
    that territory when CLDR has one (en_IN, en_GB), else the territory's likely locale."""
    if not country:
        return DEFAULT_LOCALE
    for candidate in (f"{language}_{country}", f"und_{country}"):
        try:
            return str(Locale.parse(candidate))
        except (UnknownLocaleError, ValueError):
            continue
    return DEFAULT_LOCALE


def format_money(amount_minor: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    return format_currency(to_major(amount_minor, currency), currency.upper(), locale=locale)


def format_rate(amount_minor: Decimal, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """Format a fractional number of minor units (a per-coin value), rounded to the currency."""
    exponent = minor_exponent(currency)
    major = (Decimal(amount_minor).scaleb(-exponent)).quantize(
        Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP
    )
    return format_currency(major, currency.upper(), locale=locale)
