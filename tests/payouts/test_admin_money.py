"""Payout admin shows money as money."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from payouts.models import PayoutTerms
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_payout_minimum_exceptions_read_as_money(staff_client):
    PayoutTerms.objects.create(
        creator=UserFactory(),
        minimum_usd=Decimal("1250.50"),
        reason="Big creator",
        set_by=staff_client.staff,
    )
    body = staff_client.get("/admin/payouts/payoutterms/").content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    assert "$1,250.50" in text
    assert "Minimum usd" not in text
