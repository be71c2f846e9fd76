"""Admin shows money as money ("$6.49"), never as raw minor units ("Amount minor 649"), and
its index has one section per name."""

from __future__ import annotations

import re

import pytest

from tests.accounts.factories import UserFactory
from wallet.limits import limit_set
from wallet.models import CoinPackage, LimitKind, Price, Recharge

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    """What staff read: the page without its tags and form values."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _recharge(**kwargs) -> Recharge:
    defaults = {"coins": 65, "amount_minor": 649, "currency": "USD", "provider": "simulated"}
    return Recharge.objects.create(
        user=kwargs.pop("user", None) or UserFactory(), **defaults | kwargs
    )


def test_recharge_list_shows_the_amount_as_money(staff_client):
    _recharge()
    _recharge(coins=700, amount_minor=9_900, currency="KRW")
    text = _text(staff_client.get("/admin/wallet/recharge/"))
    assert "$6.49" in text and "₩9,900" in text
    assert "Amount minor" not in text and "amount minor" not in text.lower()


def test_recharge_page_shows_the_amount_as_money(staff_client):
    recharge = _recharge()
    text = _text(staff_client.get(f"/admin/wallet/recharge/{recharge.pk}/change/"))
    assert "$6.49" in text
    assert "Amount minor" not in text and " 649 " not in text


def test_recharge_list_still_sorts_by_amount(staff_client):
    small, big = _recharge(amount_minor=99), _recharge(amount_minor=10_000)
    response = staff_client.get("/admin/wallet/recharge/", {"o": "3"})  # the amount column
    ids = [r.pk for r in response.context["cl"].result_list]
    assert ids == [small.pk, big.pk]


def test_package_prices_read_as_money(staff_client):
    package = CoinPackage.objects.create(coins=12_345)
    Price.objects.create(package=package, currency="USD", amount_minor=649)
    Price.objects.create(package=package, currency="JPY", amount_minor=980)
    listing = _text(staff_client.get("/admin/wallet/coinpackage/"))
    assert "$6.49" in listing and "¥980" in listing
    page = _text(staff_client.get(f"/admin/wallet/coinpackage/{package.pk}/change/"))
    assert "$6.49" in page and "¥980" in page
    assert "Amount minor" not in page and "AMOUNT MINOR" not in page.upper()


def test_spending_limits_read_as_money(staff_client):
    fan = UserFactory()
    limit_set(user=fan, kind=LimitKind.MONTHLY, currency="USD", amount_minor=10_000)
    limit_set(user=fan, kind=LimitKind.MONTHLY, currency="USD", amount_minor=50_000)  # raise: waits
    limit_set(user=fan, kind=LimitKind.DAILY, currency="GBP", amount_minor=2_500)
    text = _text(staff_client.get("/admin/wallet/spendinglimit/"))
    assert "$100.00" in text and "$500.00" in text and "£25.00" in text
    assert "minor" not in text.lower()


def test_admin_index_has_one_section_per_name(staff_client):
    body = staff_client.get("/admin/").content.decode()
    captions = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]+)</a>', body)
    assert len(captions) > 3
    assert len(captions) == len(set(captions)), captions
