"""Spending limits: lower at once, higher after 24 hours, refusals say how much room is left."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from wallet import exceptions as errors
from wallet.limits import limit_set, limits_for
from wallet.models import CoinPackage, LimitKind, Recharge, RechargeStatus
from wallet.services import recharge_create

pytestmark = pytest.mark.django_db


def _buy(user, coins=350):
    return recharge_create(
        user=user,
        currency="USD",
        package=CoinPackage.objects.get(coins=coins, bonus_coins=0),
        success_url="http://t/s/",
        cancel_url="http://t/c/",
    )


def test_per_recharge_limit_refuses_with_the_limit(user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=500)
    with pytest.raises(
        errors.RechargeError, match=r"\$7.40 is over your limit of \$5.00 per recharge"
    ):
        _buy(user, 700)
    assert not Recharge.objects.exists()
    _buy(user, 350)  # $3.70 fits


def test_daily_cap_counts_open_and_paid_recharges_and_says_room_left(user):
    limit_set(user=user, kind=LimitKind.DAILY, currency="USD", amount_minor=1000)
    _buy(user, 350)  # $3.70 open checkout counts
    _buy(user, 350)  # $7.40
    with pytest.raises(errors.RechargeError, match=r"you can recharge up to \$2.60 more now"):
        _buy(user, 350)
    assert Recharge.objects.count() == 2


def test_failed_and_old_recharges_do_not_count(user):
    limit_set(user=user, kind=LimitKind.DAILY, currency="USD", amount_minor=400)
    first = _buy(user, 350)
    Recharge.objects.filter(pk=first.pk).update(status=RechargeStatus.FAILED)
    second = _buy(user, 350)
    Recharge.objects.filter(pk=second.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    _buy(user, 350)


def test_lowering_applies_at_once_raising_after_24_hours(user):
    limit_set(user=user, kind=LimitKind.MONTHLY, currency="USD", amount_minor=5000)
    limit_set(user=user, kind=LimitKind.MONTHLY, currency="USD", amount_minor=2000)
    assert limits_for(user=user, currency="USD")[LimitKind.MONTHLY].amount_minor == 2000

    limit_set(user=user, kind=LimitKind.MONTHLY, currency="USD", amount_minor=9000)
    state = limits_for(user=user, currency="USD")[LimitKind.MONTHLY]
    assert state.amount_minor == 2000 and state.pending_amount_minor == 9000 and state.has_pending

    with time_machine.travel(timezone.now() + dt.timedelta(hours=23, minutes=59)):
        assert limits_for(user=user, currency="USD")[LimitKind.MONTHLY].amount_minor == 2000
    with time_machine.travel(timezone.now() + dt.timedelta(hours=24, seconds=1)):
        assert limits_for(user=user, currency="USD")[LimitKind.MONTHLY].amount_minor == 9000


def test_removing_a_limit_waits_24_hours(user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=500)
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=None)
    with pytest.raises(errors.RechargeError):
        _buy(user, 700)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        _buy(user, 700)


def test_limits_page_saves_in_major_units(user_client, user):
    response = user_client.post(
        "/wallet/limits/", {"per_recharge": "5.00", "daily": "", "monthly": "100"}
    )
    assert response.status_code == 302
    states = limits_for(user=user, currency="USD")
    assert states[LimitKind.PER_RECHARGE].amount_minor == 500
    assert states[LimitKind.MONTHLY].amount_minor == 10000
    assert states[LimitKind.DAILY].amount_minor is None


@pytest.mark.parametrize("bad", ["-1", "abc", "1.234"])
def test_limits_page_refuses_bad_amounts(user_client, user, bad):
    response = user_client.post("/wallet/limits/", {"per_recharge": bad})
    assert response.status_code == 400
    assert limits_for(user=user, currency="USD")[LimitKind.PER_RECHARGE].amount_minor is None


def test_recharge_page_shows_the_limit_message(user_client, user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100)
    package = CoinPackage.objects.get(coins=350, bonus_coins=0)
    response = user_client.post("/wallet/recharge/", {"choice": package.pk})
    assert response.status_code == 400
    assert "is over your limit of $1.00 per recharge" in response.content.decode()
