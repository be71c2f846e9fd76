"""Bulk is never worse value (DESIGN §2), checked from the catalogue the migrations leave,
in every currency, and the custom amount priced at the largest package not above it."""

from __future__ import annotations

import pytest

from wallet.models import CoinPackage, Price
from wallet.selectors import bulk_value_problems, custom_amount_minor, offers_for

pytestmark = pytest.mark.django_db


def test_in_every_currency_a_bigger_package_costs_no_more_per_coin():
    currencies = set(Price.objects.filter(package__active=True).values_list("currency", flat=True))
    assert {"USD", "GBP", "INR", "AUD", "CAD", "PHP", "MXN", "BRL", "KRW"} <= currencies
    assert bulk_value_problems() == []
    for currency in currencies:
        offers = sorted(offers_for(currency=currency), key=lambda o: o.package.total_coins)
        assert len(offers) >= 6, currency  # the small packages and the bulk ones
        # Each step up is at least as cheap per coin (exactly: a/x ≥ b/y as a·y ≥ b·x).
        for small, big in zip(offers, offers[1:], strict=False):
            assert (
                big.price.amount_minor * small.package.total_coins
                <= small.price.amount_minor * big.package.total_coins
            ), (currency, small.package, big.package)


def test_the_app_store_packages_are_retired_and_the_design_prices_hold():
    retired = CoinPackage.objects.filter(coins__in=[100, 500, 1000], bonus_coins=0)
    assert retired.count() == 3 and not retired.filter(active=True).exists()
    usd = {o.package.total_coins: o.price.amount_minor for o in offers_for(currency="USD")}
    assert (usd[65], usd[350], usd[700]) == (74, 370, 740)
    aud = {o.package.total_coins: o.price.amount_minor for o in offers_for(currency="AUD")}
    assert aud[700] == 1270  # not the seeds' 12.75


def test_a_dearer_bigger_package_is_found():
    price = Price.objects.get(package__coins=3500, package__bonus_coins=0, currency="GBP")
    price.amount_minor += 1
    price.save()
    assert bulk_value_problems() == [
        "GBP: 3,500 coins for 3726 costs more per coin than 700 coins for 745",
        "GBP: 3,500 coins for 3726 costs more per coin than 1,400 coins for 1490",
    ]
    assert bulk_value_problems(currency="USD") == []


@pytest.mark.parametrize(
    ("coins", "expected"),
    [
        (30, 35),  # below every package: the smallest one's rate (65 for 74), rounded up
        (65, 74),  # exactly a package: its price
        (1_000, 1_058),  # the 700 package's rate: 1,000 × 740 / 700 = 1,057.14 → 1,058
        (5_000, 5_285),  # the 5,000 package: never dearer than buying it
        (349, 370),  # at the 65 package's rate 398, dearer than the 350 package: its price
        (5_001, 5_287),  # the 5,000 package's rate: 5,001 × 5,285 / 5,000 = 5,286.06
        (7_349, 7_400),  # at 5,000's rate 7,768, dearer than the 7,350 package: its price
        (7_350, 7_400),  # the 7,000 + 350 bonus package
        (200_000, 201_361),  # the biggest package's rate: 200,000 × 7,400 / 7,350 = 201,360.5
    ],
)
def test_custom_amount_is_priced_at_the_largest_package_not_above_it(coins, expected):
    assert custom_amount_minor(coins=coins, currency="USD") == expected


def test_custom_amount_is_never_dearer_than_a_package_of_at_least_as_many_coins():
    for currency in set(Price.objects.values_list("currency", flat=True)):
        offers = offers_for(currency=currency)
        for coins in {o.package.total_coins + d for o in offers for d in (-1, 0, 1)}:
            if coins < 30:
                continue
            custom = custom_amount_minor(coins=coins, currency=currency)
            for offer in offers:
                if offer.package.total_coins >= coins:
                    assert custom <= offer.price.amount_minor, (currency, coins, offer.package)


def _package_form(package: CoinPackage, **changes) -> dict:
    """The admin change form of `package` as posted, with its prices (and `changes`)."""
    prices = list(package.prices.order_by("pk"))
    data = {
        "coins": package.coins, "bonus_coins": package.bonus_coins, "sort_order": package.sort_order,
        "prices-TOTAL_FORMS": len(prices), "prices-INITIAL_FORMS": len(prices),
        "prices-MIN_NUM_FORMS": 0, "prices-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    if package.active:
        data["active"] = "on"
    for n, price in enumerate(prices):
        data |= {
            f"prices-{n}-id": price.pk, f"prices-{n}-package": package.pk,
            f"prices-{n}-currency": price.currency,
            f"prices-{n}-amount_minor": changes.get(price.currency, price.amount_minor),
        }  # fmt: skip
    return data


def test_staff_cannot_price_a_bigger_package_dearer_per_coin(admin_client):
    package = CoinPackage.objects.get(coins=3500, bonus_coins=0)
    url = f"/admin/wallet/coinpackage/{package.pk}/change/"
    response = admin_client.post(url, _package_form(package, USD=3701))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bulk must never be worse value" in body
    assert "USD: 3,500 coins for 3701 costs more per coin than 700 coins for 740" in body
    assert Price.objects.get(package=package, currency="USD").amount_minor == 3700
    # Cheaper can break it too: then the 5,000 package would be the dearer one per coin.
    response = admin_client.post(url, _package_form(package, USD=3650))
    assert "USD: 5,000 coins for 5285 costs more per coin than 3,500 coins for 3650" in (
        response.content.decode()
    )
    # The biggest package may always get cheaper.
    biggest = CoinPackage.objects.get(coins=7000, bonus_coins=350)
    response = admin_client.post(
        f"/admin/wallet/coinpackage/{biggest.pk}/change/", _package_form(biggest, USD=7300)
    )
    assert response.status_code == 302
    assert Price.objects.get(package=biggest, currency="USD").amount_minor == 7300
    assert bulk_value_problems() == []


def test_staff_cannot_bring_back_a_retired_app_store_package(admin_client):
    package = CoinPackage.objects.get(coins=100, bonus_coins=0)
    package.active = True  # as posted: switched back on, its $1.29 unchanged
    response = admin_client.post(
        f"/admin/wallet/coinpackage/{package.pk}/change/", _package_form(package)
    )
    assert response.status_code == 200 and "costs more per coin" in response.content.decode()
    assert not CoinPackage.objects.get(pk=package.pk).active
