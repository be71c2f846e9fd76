"""Stripe does not order its events: a refund or dispute may arrive before the checkout it
undoes has completed. It is held under its payment intent and applied when the payment
lands, in the transaction that credits it, so the coins are never kept or spent."""

from __future__ import annotations

import time

import pytest

from tests.helpers import postgres_only, run_threads
from tests.wallet.factories import session_event, signed, wallet_of
from wallet import webhooks
from wallet.ledger import account_balance
from wallet.models import (
    CoinPackage,
    Entry,
    Recharge,
    RechargeStatus,
    TransactionKind,
    WebhookEvent,
    WebhookEventStatus,
)
from wallet.payments import SimulatedProvider
from wallet.services import recharge_create, recharge_sync
from wallet.webhooks import webhook_receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _open(user, coins=350):
    return recharge_create(
        user=user,
        currency="USD",
        package=CoinPackage.objects.get(coins=coins, bonus_coins=0),
        success_url="http://t/s/",
        cancel_url="http://t/c/",
    )


def _deliver(event) -> int:
    body, sig = signed(event)
    return webhook_receive(payload=body, signature=sig).status_code


def _undo_event(recharge, event_id, type="charge.refunded", amount_refunded=None):
    obj = {"id": "ch_1", "object": "charge", "payment_intent": f"pi_{recharge.pk}",
           "amount": recharge.amount_minor,
           "amount_refunded": recharge.amount_minor if amount_refunded is None else amount_refunded}  # fmt: skip
    if type != "charge.refunded":
        obj = {"id": "dp_1", "object": "dispute", "payment_intent": f"pi_{recharge.pk}"}
    return {"id": event_id, "object": "event", "type": type, "data": {"object": obj}}


def _recharge_entries(recharge) -> list[tuple[str, int]]:
    return sorted(
        (e.transaction.kind, e.amount)
        for e in Entry.objects.filter(
            transaction__reference=f"recharge:{recharge.pk}", account=wallet_of(recharge.user)
        ).select_related("transaction")
    )


@pytest.mark.parametrize(
    "event_type, status, kind",
    [
        ("charge.refunded", RechargeStatus.REFUNDED, TransactionKind.REFUND),
        ("charge.dispute.created", RechargeStatus.DISPUTED, TransactionKind.DISPUTE),
    ],
)
def test_a_refund_or_dispute_before_the_payment_is_applied_when_it_lands(
    user, event_type, status, kind
):
    recharge = _open(user)
    assert _deliver(_undo_event(recharge, "evt_early", type=event_type)) == 200
    held = WebhookEvent.objects.get(event_id="evt_early")
    assert held.status == WebhookEventStatus.HELD and held.payment_intent == f"pi_{recharge.pk}"
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PENDING and account_balance(wallet_of(user)) == 0

    assert _deliver(session_event(recharge, event_id="evt_paid")) == 200
    recharge.refresh_from_db()
    assert recharge.status == status
    assert account_balance(wallet_of(user)) == 0
    assert _recharge_entries(recharge) == sorted([(TransactionKind.RECHARGE, 350), (kind, -350)])
    held.refresh_from_db()
    assert held.status == WebhookEventStatus.PROCESSED
    assert f"recharge {recharge.pk}" in held.note
    # Stripe redelivers both: each is a duplicate now, and nothing moves again.
    assert _deliver(_undo_event(recharge, "evt_early", type=event_type)) == 200
    assert _deliver(session_event(recharge, event_id="evt_paid")) == 200
    assert account_balance(wallet_of(user)) == 0 and len(_recharge_entries(recharge)) == 2


def test_a_dispute_and_a_refund_both_early_claw_back_once(user):
    recharge = _open(user)
    _deliver(_undo_event(recharge, "evt_dispute", type="charge.dispute.created"))
    _deliver(_undo_event(recharge, "evt_refund"))
    _deliver(session_event(recharge, event_id="evt_paid"))
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.REFUNDED  # disputed first, then refunded
    assert _recharge_entries(recharge) == sorted(
        [(TransactionKind.RECHARGE, 350), (TransactionKind.DISPUTE, -350)]
    )
    assert set(WebhookEvent.objects.filter(type__startswith="charge.").values_list(
        "status", flat=True)) == {WebhookEventStatus.PROCESSED}  # fmt: skip


def test_an_early_partial_refund_waits_for_staff_with_the_coins_credited(user):
    recharge = _open(user)
    _deliver(_undo_event(recharge, "evt_partial", amount_refunded=100))
    _deliver(session_event(recharge, event_id="evt_paid"))
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID and recharge.needs_review
    assert "partial refund of 100 USD" in recharge.review_note
    assert WebhookEvent.objects.get(event_id="evt_partial").status == WebhookEventStatus.REVIEW


def test_the_success_page_applies_a_held_refund_too(user, monkeypatch):
    """The fan's return from checkout may credit before the webhook: the refund held
    meanwhile is applied on that path as well."""
    recharge = _open(user)
    session = session_event(recharge, event_id="unused")["data"]["object"]
    monkeypatch.setattr(SimulatedProvider, "checkout_retrieve", lambda self, sid: session)
    _deliver(_undo_event(recharge, "evt_early"))
    assert recharge_sync(recharge=recharge).status == RechargeStatus.REFUNDED
    assert account_balance(wallet_of(user)) == 0


def test_a_refund_for_no_payment_of_ours_is_held_and_touches_nothing(user):
    other = _open(user)
    event = _undo_event(other, "evt_foreign")
    event["data"]["object"]["payment_intent"] = "pi_someone_elses"
    assert _deliver(event) == 200
    assert WebhookEvent.objects.get(event_id="evt_foreign").status == WebhookEventStatus.HELD
    _deliver(session_event(other, event_id="evt_paid"))
    other.refresh_from_db()
    assert other.status == RechargeStatus.PAID and account_balance(wallet_of(user)) == 350


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refund_racing_its_payment_is_never_lost(user, monkeypatch):
    """The refund finds no payment yet and, before it commits, the completed checkout is
    delivered to another worker: the payment waits for the held refund and applies it, so
    the coins end clawed back exactly once (without the wait, each missed the other)."""
    real_locked = webhooks._locked

    def slow_lookup(*args, **kwargs):
        try:
            return real_locked(*args, **kwargs)
        except Recharge.DoesNotExist:
            time.sleep(0.5)  # the payment lands meanwhile
            raise

    monkeypatch.setattr(webhooks, "_locked", slow_lookup)
    recharge = _open(user)

    def deliver(i):
        if i == 0:
            return _deliver(_undo_event(recharge, "evt_race_refund"))
        time.sleep(0.15)
        return _deliver(session_event(recharge, event_id="evt_race_paid"))

    assert run_threads(2, deliver) == [200, 200]
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.REFUNDED
    assert account_balance(wallet_of(user)) == 0
    assert _recharge_entries(recharge) == sorted(
        [(TransactionKind.RECHARGE, 350), (TransactionKind.REFUND, -350)]
    )
