"""Payout requests and the one transition service: diamonds conserved through the ledger,
illegal moves refused, bad input refused with nothing changed."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
import time_machine
from django.core import mail
from django.db import connection

from payouts import exceptions as errors
from payouts import selectors
from payouts.models import TRANSITIONS, Payout, PayoutStatus, PayoutStatusChange, PayoutTerms
from payouts.services import (
    payout_approve,
    payout_method_set,
    payout_minimum_set,
    payout_request,
    payout_transition,
)
from tests.accounts.factories import UserFactory
from tests.helpers import postgres_only, run_threads
from tests.payouts.factories import earning_creator, paypal, send, sent_at, with_mfa
from wallet.ledger import account_balance, account_get
from wallet.models import Entry, Purpose, Transaction, TransactionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

# A Galaxy (1,000 coins) earns 500 diamonds = $2.50; clearing takes PAYOUT_CLEARING_DAYS.
CLEARED = dt.timedelta(days=8)


def _balances(user) -> tuple[int, int]:
    return (
        account_balance(account_get(owner=user, purpose=Purpose.EARNINGS)),
        account_balance(account_get(owner=user, purpose=Purpose.PAYOUT_HOLD)),
    )


@pytest.fixture
def cleared_creator():
    """A creator with 10 Galaxies (5,000 diamonds = $25) sent 8 days ago: all available."""
    owner, stream, fan = earning_creator(gifts=10)
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    return owner


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def _request(owner, diamonds, key=None):
    return payout_request(creator=owner, diamonds=diamonds, key=key or str(uuid.uuid4()))


# ----------------------------------------------------------------------------- arithmetic


def test_quote_pays_whole_cents_and_keeps_the_odd_diamond():
    quote = selectors.payout_quote(14_999)
    assert (quote.diamonds, quote.cents, quote.leftover) == (14_998, 7_499, 1)
    assert selectors.payout_quote(2_000).cents == 1_000
    assert selectors.payout_quote(1).cents == 0
    assert selectors.diamonds_for_cents(1_000) == 2_000


def test_quote_with_a_rate_of_three_tenths_of_a_cent(settings):
    settings.DIAMOND_VALUE_USD = __import__("decimal").Decimal("0.003")  # 3/10 cent
    quote = selectors.payout_quote(1_005)
    assert (quote.diamonds, quote.cents, quote.leftover) == (1_000, 300, 5)
    assert selectors.diamonds_for_cents(1_000) == 3_340  # 3,340 × 0.3 = 1,002 cents ≥ 1,000


# ----------------------------------------------------------------------------- requests


def test_request_holds_the_diamonds_in_one_balanced_transaction(cleared_creator):
    owner = cleared_creator
    assert _balances(owner) == (5_000, 0)
    payout = _request(owner, 3_001)
    assert (payout.diamonds, payout.amount_minor, payout.currency) == (3_000, 1_500, "USD")
    assert payout.status == PayoutStatus.REQUESTED
    assert _balances(owner) == (2_000, 3_000)
    txn = Transaction.objects.get(idempotency_key=f"payout:{payout.pk}:request")
    assert txn.kind == TransactionKind.PAYOUT_REQUEST
    amounts = sorted(Entry.objects.filter(transaction=txn).values_list("amount", flat=True))
    assert amounts == [-3_000, 3_000]
    assert list(payout.history.values_list("from_status", "to_status")) == [("", "requested")]


def test_repeated_key_is_one_payout(cleared_creator):
    key = str(uuid.uuid4())
    first = _request(cleared_creator, 2_000, key)
    again = _request(cleared_creator, 2_000, key)
    assert first.pk == again.pk
    assert Payout.objects.count() == 1
    assert _balances(cleared_creator) == (3_000, 2_000)
    with pytest.raises(errors.PayoutError, match="different amount"):
        _request(cleared_creator, 4_000, key)


@pytest.mark.parametrize(
    ("diamonds", "message"),
    [
        (1_999, "minimum payout is \\$10.00"),
        (5_002, "5,000 diamonds available"),
        (10**30, "5,000 diamonds available"),
        (0, "whole number"),
        (-2_000, "whole number"),
        (2_000.0, "whole number"),
        ("2000", "whole number"),
        (True, "whole number"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(cleared_creator, diamonds, message):
    with pytest.raises(errors.PayoutError, match=message):
        _request(cleared_creator, diamonds)
    assert Payout.objects.count() == 0
    assert _balances(cleared_creator) == (5_000, 0)


def test_daily_cap_counts_the_last_24_hours(cleared_creator, settings):
    settings.PAYOUT_MAX_PER_DAY_USD = __import__("decimal").Decimal("15")
    _request(cleared_creator, 2_000)  # $10
    with pytest.raises(errors.PayoutError, match="\\$5.00 is left"):
        _request(cleared_creator, 2_002)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
        assert _request(cleared_creator, 2_002).amount_minor == 1_001


def test_rejected_payouts_do_not_count_toward_the_cap(cleared_creator, staff, settings):
    settings.PAYOUT_MAX_PER_DAY_USD = __import__("decimal").Decimal("10")
    first = _request(cleared_creator, 2_000)
    payout_transition(payout_id=first.pk, to=PayoutStatus.REJECTED, by=staff, note="Check ID")
    assert _request(cleared_creator, 2_000).status == PayoutStatus.REQUESTED


def test_staff_can_lower_one_creators_minimum(cleared_creator, staff):
    with pytest.raises(errors.PayoutError, match="minimum"):
        _request(cleared_creator, 1_000)
    payout_minimum_set(
        creator=cleared_creator, minimum_usd=__import__("decimal").Decimal("5"),
        reason="Charity stream", by=staff,
    )  # fmt: skip
    terms = PayoutTerms.objects.get(creator=cleared_creator)
    assert (terms.set_by, terms.reason) == (staff, "Charity stream")
    assert _request(cleared_creator, 1_000).amount_minor == 500


def test_request_needs_two_factor_a_method_and_a_creator():
    owner, _, _ = earning_creator(gifts=1, mfa=False)
    with pytest.raises(errors.PayoutNotAllowed, match="two-factor"):
        _request(owner, 500)
    with_mfa(owner)
    owner.payout_methods.all().delete()
    with pytest.raises(errors.PayoutNotAllowed, match="payout method"):
        _request(owner, 500)
    fan = with_mfa(UserFactory())
    paypal(fan)
    with pytest.raises(errors.PayoutNotAllowed, match="Only creators"):
        _request(fan, 500)
    assert Payout.objects.count() == 0


def test_frozen_wallet_cannot_request(cleared_creator):
    account = account_get(owner=cleared_creator, purpose=Purpose.WALLET)
    type(account).objects.filter(pk=account.pk).update(frozen=True)
    with pytest.raises(errors.PayoutNotAllowed, match="frozen"):
        _request(cleared_creator, 2_000)


# ----------------------------------------------------------------------------- clearing


def test_gifts_clear_after_the_clearing_days():
    owner, stream, fan = earning_creator(gifts=0)
    start = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    sent_at(send(fan, stream, "galaxy"), start)  # 500 diamonds
    sent_at(send(fan, stream, "money-gun"), start + dt.timedelta(days=3))  # 250 diamonds
    with time_machine.travel(start + dt.timedelta(days=3, hours=1), tick=False):
        summary = selectors.earnings_summary(creator=owner)
        assert (summary.available, summary.clearing) == (0, 750)
        assert [(b.available_on, b.diamonds) for b in summary.batches] == [
            (dt.date(2026, 3, 8), 500),
            (dt.date(2026, 3, 11), 250),
        ]
        with pytest.raises(errors.PayoutError, match="You have 0 diamonds available"):
            _request(owner, 2_000)
    with time_machine.travel(start + dt.timedelta(days=7, hours=1), tick=False):
        summary = selectors.earnings_summary(creator=owner)
        assert (summary.available, summary.clearing, summary.lifetime_earned) == (500, 250, 750)


# ----------------------------------------------------------------------------- transitions


ALL = list(PayoutStatus)


def _payout_in(status: str, owner, staff) -> Payout:
    """A real payout brought to `status` through the transition service."""
    payout = _request(owner, 2_000)
    path = {
        PayoutStatus.REQUESTED: [],
        PayoutStatus.APPROVED: [PayoutStatus.APPROVED],
        PayoutStatus.PROCESSING: [PayoutStatus.APPROVED, PayoutStatus.PROCESSING],
        PayoutStatus.PAID: [PayoutStatus.APPROVED, PayoutStatus.PAID],
        PayoutStatus.FAILED: [PayoutStatus.APPROVED, PayoutStatus.PROCESSING, PayoutStatus.FAILED],
        PayoutStatus.REJECTED: [PayoutStatus.REJECTED],
    }[status]
    for step in path:
        payout_transition(payout_id=payout.pk, to=step, by=staff, note="why", reference="ref-1")
    payout.refresh_from_db()
    assert payout.status == status
    return payout


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a, b in itertools.product(ALL, ALL) if b not in TRANSITIONS[a]],
)
def test_illegal_moves_are_refused(cleared_creator, staff, current, target):
    payout = _payout_in(current, cleared_creator, staff)
    before = (_balances(cleared_creator), payout.history.count())
    with pytest.raises(errors.PayoutError, match="can't be marked"):
        payout_transition(payout_id=payout.pk, to=target, by=staff, note="n", reference="r")
    payout.refresh_from_db()
    assert payout.status == current
    assert (_balances(cleared_creator), payout.history.count()) == before


def test_every_legal_move_is_allowed(staff):
    # Enough for every paid payout the loop makes.
    cleared_creator, stream, _ = earning_creator(gifts=2, slug="universe")
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    for current, targets in TRANSITIONS.items():
        for target in targets:
            payout = _payout_in(current, cleared_creator, staff)
            payout_transition(payout_id=payout.pk, to=target, by=staff, note="n", reference="r")
            payout.refresh_from_db()
            assert payout.status == target
            # Give the diamonds back for the next round, if they are still held.
            if payout.is_open:
                payout_transition(payout_id=payout.pk, to=PayoutStatus.REJECTED
                                  if target != PayoutStatus.PROCESSING else PayoutStatus.FAILED,
                                  by=staff, note="reset")  # fmt: skip


def test_diamonds_conserved_through_reject_fail_and_paid(cleared_creator, staff):
    owner = cleared_creator
    rejected = _request(owner, 2_000)
    payout_transition(payout_id=rejected.pk, to=PayoutStatus.REJECTED, by=staff, note="Blurry ID")
    assert _balances(owner) == (5_000, 0)
    rejected.refresh_from_db()
    assert rejected.note == "Blurry ID"

    failed = _request(owner, 2_000)
    payout_transition(payout_id=failed.pk, to=PayoutStatus.APPROVED, by=staff)
    payout_transition(payout_id=failed.pk, to=PayoutStatus.PROCESSING, by=staff)
    payout_transition(payout_id=failed.pk, to=PayoutStatus.FAILED, by=None, note="Bank refused")
    assert _balances(owner) == (5_000, 0)

    paid = _request(owner, 3_000)
    assert _balances(owner) == (2_000, 3_000)
    payout_approve(payout_id=paid.pk, by=staff)
    payout_transition(payout_id=paid.pk, to=PayoutStatus.PAID, by=staff, reference="PP-123")
    paid.refresh_from_db()
    assert (paid.provider_reference, paid.paid_at is not None) == ("PP-123", True)
    assert _balances(owner) == (2_000, 0)
    redeemed = account_balance(account_get(purpose=Purpose.DIAMONDS_REDEEMED))
    assert redeemed == 3_000
    summary = selectors.earnings_summary(creator=owner)
    assert (summary.available, summary.held, summary.lifetime_paid, summary.lifetime_earned) == (
        2_000, 0, 3_000, 5_000,
    )  # fmt: skip
    moves = list(
        PayoutStatusChange.objects.filter(payout=paid).values_list("from_status", "to_status", "by")
    )
    assert moves == [("", "requested", owner.pk), ("requested", "approved", staff.pk),
                     ("approved", "paid", staff.pk)]  # fmt: skip


def test_paid_needs_a_reference_and_reject_a_reason(cleared_creator, staff):
    payout = _request(cleared_creator, 2_000)
    with pytest.raises(errors.PayoutError, match="reason"):
        payout_transition(payout_id=payout.pk, to=PayoutStatus.REJECTED, by=staff, note="  ")
    payout_transition(payout_id=payout.pk, to=PayoutStatus.APPROVED, by=staff)
    with pytest.raises(errors.PayoutError, match="reference"):
        payout_transition(payout_id=payout.pk, to=PayoutStatus.PAID, by=staff)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.APPROVED


def test_nobody_acts_on_their_own_payout(cleared_creator):
    owner = cleared_creator
    payout = _request(owner, 2_000)
    type(owner).objects.filter(pk=owner.pk).update(is_staff=True)
    owner.refresh_from_db()
    with pytest.raises(errors.PayoutNotAllowed, match="own payout"):
        payout_approve(payout_id=payout.pk, by=owner)
    fan = UserFactory()
    with pytest.raises(errors.PayoutNotAllowed, match="Only staff"):
        payout_approve(payout_id=payout.pk, by=fan)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


def test_every_status_change_emails_the_creator(
    cleared_creator, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payout = _request(cleared_creator, 2_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout_transition(
            payout_id=payout.pk, to=PayoutStatus.REJECTED, by=staff, note="Name mismatch"
        )
    subjects = [m.subject for m in mail.outbox if m.to == [cleared_creator.email]]
    assert subjects == [
        "[Giftcast] We received your payout request",
        "[Giftcast] Your payout was declined: your diamonds are back",
    ]
    assert "Reason: Name mismatch" in mail.outbox[-1].body
    assert "/creator/payouts/" in mail.outbox[-1].body


# ----------------------------------------------------------------------------- methods


def test_changing_the_method_retires_the_old_one_and_emails(
    cleared_creator, django_capture_on_commit_callbacks
):
    old = cleared_creator.payout_methods.get(active=True)
    with django_capture_on_commit_callbacks(execute=True):
        new = payout_method_set(
            creator=cleared_creator, kind="bank", bank_holder="Eve Example",
            iban="DE89370400440532013000",
        )  # fmt: skip
    old.refresh_from_db()
    assert (old.active, old.retired_at is not None, new.active) == (False, True, True)
    assert new.masked == "Bank ••••3000"
    assert "changed" in mail.outbox[-1].subject and "Bank ••••3000" in mail.outbox[-1].body
    payout = _request(cleared_creator, 2_000)
    assert payout.method == new


# ----------------------------------------------------------------------------- races


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_requests_for_the_whole_balance_make_one_payout():
    owner, stream, _ = earning_creator(gifts=10)
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    results = run_threads(10, lambda i: _request(owner, 5_000))
    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if isinstance(r, errors.PayoutError)]
    assert len(made) == 1 and len(refused) == 9, results
    assert _balances(owner) == (0, 5_000)
    assert Payout.objects.count() == 1
    connection.close()


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_double_click_is_one_payout():
    owner, stream, _ = earning_creator(gifts=10)
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    key = str(uuid.uuid4())
    results = run_threads(6, lambda i: _request(owner, 2_000, key))
    assert {r.pk for r in results if isinstance(r, Payout)} == {Payout.objects.get().pk}, results
    assert _balances(owner) == (3_000, 2_000)
