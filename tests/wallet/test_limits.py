"""Spending limits: lower at once, higher after 24 hours, refusals say how much room is left."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from tests.wallet.factories import fan_moves
from wallet import exceptions as errors
from wallet.limits import limit_set, limits_for
from wallet.models import CoinPackage, LimitKind, Price, Recharge, RechargeStatus
from wallet.selectors import pricing_currency
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


# ---------------------------------------------------------------- across a change of currency
# The price table converts: the same package costs $7.40 and £7.45 (700 coins), $3.70 and
# £3.75 (350), and so on. A limit reads in another currency at the package that makes it
# smallest; spending counts at the package that makes it largest.


def _custom(user, coins: int) -> Recharge:
    return recharge_create(
        user=user,
        currency=pricing_currency(user=user),
        custom_coins=coins,
        success_url="http://t/s/",
        cancel_url="http://t/c/",
    )


def test_a_pending_raise_still_waits_when_the_fan_moves_to_another_currency(user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100)
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100_000)
    fan_moves(user, "GB")

    with pytest.raises(
        errors.RechargeError,
        match=r"£1.07 is over your limit of £1.00 \(US\$1.00 at our prices\) per recharge\.",
    ):
        _custom(user, 99)  # £1.07
    assert not Recharge.objects.exists()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=24, seconds=1)):
        assert _custom(user, 99).amount_minor == 107  # the $1,000 raise is in force now


def test_a_limit_set_in_a_new_currency_is_a_raise_against_the_one_in_force(user_client, user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100)
    fan_moves(user, "GB")
    assert user_client.post("/wallet/limits/", {"per_recharge": "5000"}).status_code == 302
    state = limits_for(user=user, currency="GBP")[LimitKind.PER_RECHARGE]
    assert (state.amount_minor, state.pending_amount_minor) == (100, 500_000)
    assert state.has_pending

    fan_moves(user, "US")
    with pytest.raises(
        errors.RechargeError, match=r"\$1,057.15 is over your limit of \$1.00 per recharge\."
    ):
        _custom(user, 105_000)  # $1,057.15
    assert not Recharge.objects.exists()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=24, seconds=1)):
        # £5,000 reads as $4,933.33 (350 coins: $3.70 against £3.75)
        assert limits_for(user=user, currency="USD")[LimitKind.PER_RECHARGE].amount_minor == (
            493_333
        )
        assert _custom(user, 105_000).amount_minor == 105_715


def test_lowering_in_a_new_currency_applies_at_once(user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=1000)
    fan_moves(user, "GB")
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="GBP", amount_minor=500)
    assert limits_for(user=user, currency="GBP")[LimitKind.PER_RECHARGE].amount_minor == 500
    fan_moves(user, "US")
    state = limits_for(user=user, currency="USD")[LimitKind.PER_RECHARGE]
    assert (state.amount_minor, state.has_pending) == (493, False)  # £5.00 at $3.70 / £3.75


@pytest.mark.parametrize("kind", [LimitKind.DAILY, LimitKind.MONTHLY])
def test_rolling_totals_count_recharges_in_every_currency(user, kind):
    _buy(user, 350)
    _buy(user, 350)  # $7.40 before the move
    fan_moves(user, "GB")
    limit_set(user=user, kind=kind, currency="GBP", amount_minor=1000)
    # $7.40 counts as £7.50 (350 coins: £3.75 against $3.70): £2.50 left.
    assert limits_for(user=user, currency="GBP")[kind].room_minor == 250
    with pytest.raises(errors.RechargeError, match=r"you can recharge up to £2.50 more now"):
        _custom(user, 234)  # £2.51
    assert _custom(user, 233).amount_minor == 250


def test_a_limit_in_force_counts_spending_in_its_own_currency(user):
    limit_set(user=user, kind=LimitKind.DAILY, currency="USD", amount_minor=1000)
    _buy(user, 350)
    _buy(user, 350)  # $7.40 of $10.00: $2.60 left, £2.61 at 700 coins' $7.40 / £7.45
    fan_moves(user, "GB")
    state = limits_for(user=user, currency="GBP")[LimitKind.DAILY]
    assert (state.amount_minor, state.room_minor) == (1006, 261)
    with pytest.raises(
        errors.RechargeError,
        match=r"£3.75 would pass your limit of £10.06 \(US\$10.00 at our prices\) per 24 hours: "
        r"you can recharge up to £2.61 more now",
    ):
        recharge_create(
            user=user, currency="GBP", package=CoinPackage.objects.get(coins=350, bonus_coins=0),
            success_url="http://t/s/", cancel_url="http://t/c/",
        )  # fmt: skip


def test_a_limit_the_price_table_cannot_convert_lets_nothing_through(user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100_000)
    only_in_euros = CoinPackage.objects.create(coins=123, sort_order=99)
    Price.objects.create(package=only_in_euros, currency="EUR", amount_minor=150)
    fan_moves(user, "DE")
    assert limits_for(user=user, currency="EUR")[LimitKind.PER_RECHARGE].amount_minor == 0
    with pytest.raises(errors.RechargeError, match="over your limit"):
        _custom(user, 123)


def test_limits_page_shows_the_limits_in_force_after_a_move(user_client, user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100)
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100_000)
    fan_moves(user, "GB")
    response = user_client.get("/wallet/limits/")
    body = response.content.decode()
    assert "£1.00" in body and "Set as US$1.00" in body
    assert "Changes to £1,006.75 (set as US$1,000.00)" in body
    assert response.context["form"]["per_recharge"].value() == Decimal("1.00")
