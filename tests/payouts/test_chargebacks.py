"""A fan's refunded or disputed payment, after the coins were spent: the gifts still clearing
are reversed newest first until the spent coins are covered; available diamonds stay."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine

from livestreams.models import SentGift, Stream, StreamStatus
from payouts import selectors
from payouts.models import GiftReversal
from payouts.services import gifts_reverse_for_clawback
from tests.livestreams.factories import creator, live_stream
from tests.payouts.factories import send, sent_at
from wallet.demo import paid_recharge
from wallet.ledger import account_balance, account_get
from wallet.models import Entry, Purpose, Recharge, RechargeStatus, TransactionKind
from wallet.payments import sign_payload
from wallet.webhooks import webhook_receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

NOW = dt.datetime.now(dt.UTC)


def _refund(recharge: Recharge, event_id: str, type: str = "charge.refunded") -> int:
    charge = {
        "id": f"ch_{recharge.pk}", "object": "charge", "payment_intent": recharge.payment_intent_id,
        "amount": recharge.amount_minor, "amount_refunded": recharge.amount_minor,
    }  # fmt: skip
    if type == "charge.dispute.created":
        charge = {"id": "dp_1", "object": "dispute", "charge": charge["id"],
                  "payment_intent": recharge.payment_intent_id, "amount": recharge.amount_minor}  # fmt: skip
    payload = json.dumps(
        {"id": event_id, "object": "event", "type": type, "data": {"object": charge}}
    )
    return webhook_receive(payload=payload.encode(), signature=sign_payload(payload)).status_code


def _absorbed() -> int:
    """Diamonds the platform absorbed: what creators kept of refunded or disputed coins."""
    return -account_balance(account_get(purpose=Purpose.CHARGEBACK_LOSSES))


def _earnings(user) -> int:
    return account_balance(account_get(owner=user, purpose=Purpose.EARNINGS))


@pytest.fixture
def history(user):
    """`user` buys 5,000 coins and gifts 2,500 of them to one creator: a Galaxy 10 days ago
    (cleared), a Galaxy 2 days ago and a Money Gun 1 day ago (both clearing)."""
    recharge = paid_recharge(user=user, session_id="cs_sim_chargeback_test")
    star = creator()
    stream = live_stream(star)
    sent_at(send(user, stream, "galaxy"), NOW - dt.timedelta(days=10))
    sent_at(send(user, stream, "galaxy"), NOW - dt.timedelta(days=2))
    sent_at(send(user, stream, "money-gun"), NOW - dt.timedelta(days=1))
    recharge.refresh_from_db()
    return recharge, star, stream


def test_refund_after_spending_reverses_the_gifts_still_clearing(history, client):
    recharge, star, stream = history
    assert _earnings(star) == 1_250
    # 2,500 coins were left in the wallet; the other 2,500 were spent on the three gifts.
    assert _refund(recharge, "evt_refund_1") == 200
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.REFUNDED
    reversed_gifts = GiftReversal.objects.order_by("pk")
    # Newest first: the Money Gun (500 coins), then the recent Galaxy (1,000); the spent
    # 2,500 are not covered, but the 10-day-old Galaxy has cleared and is never taken back.
    assert [r.sent_gift.gift.slug for r in reversed_gifts] == ["money-gun", "galaxy"]
    assert [r.diamonds for r in reversed_gifts] == [250, 500]
    assert _earnings(star) == 500
    entries = Entry.objects.filter(transaction__kind=TransactionKind.GIFT_REVERSAL)
    assert sorted(entries.values_list("amount", flat=True)) == [-500, -250, 250, 500]
    # The cleared Galaxy's 500 diamonds stay with the creator: the platform's loss, booked.
    assert _absorbed() == 500

    summary = selectors.earnings_summary(creator=star)
    assert (summary.available, summary.clearing, summary.lifetime_earned) == (500, 0, 500)
    rows = list(selectors.earnings_rows(creator=star))
    assert [row[7] for row in rows] == ["available", "reversed", "reversed"]

    # The same event again, and the dispute Stripe may send as well: nothing more moves.
    assert _refund(recharge, "evt_refund_1") == 200
    assert GiftReversal.objects.count() == 2 and _earnings(star) == 500
    assert _absorbed() == 500


def test_dispute_reverses_too_and_refund_after_it_changes_nothing(history):
    recharge, star, _ = history
    assert _refund(recharge, "evt_dispute", type="charge.dispute.created") == 200
    assert GiftReversal.objects.count() == 2
    assert _refund(recharge, "evt_refund_after") == 200
    assert GiftReversal.objects.count() == 2 and _earnings(star) == 500


def test_gifts_that_have_cleared_are_never_taken_back(user):
    recharge = paid_recharge(user=user, session_id="cs_sim_cleared_test")
    star = creator()
    stream = live_stream(star)
    for _ in range(5):
        send(user, stream, "galaxy")  # all 5,000 coins spent, today
    with time_machine.travel(NOW + dt.timedelta(days=8)):
        recharge.refresh_from_db()
        assert _refund(recharge, "evt_late_refund") == 200
    assert GiftReversal.objects.count() == 0
    assert _earnings(star) == 2_500  # the platform bears it, on its loss account
    assert _absorbed() == 2_500
    assert account_balance(account_get(owner=user, purpose=Purpose.CLAWBACK)) == -5_000


def test_a_partly_spent_refund_reverses_only_what_was_spent(user):
    recharge = paid_recharge(user=user, session_id="cs_sim_partly_spent_test")
    recharge.refresh_from_db()
    star = creator()
    stream = live_stream(star)
    sent_at(send(user, stream, "galaxy"), NOW - dt.timedelta(hours=2))
    send(user, stream, "rose")
    # 3,999 coins are still in the wallet and taken back from it; the 1,001 spent are
    # covered by the Rose (newest; its share rounded to nothing) and then the Galaxy.
    assert _refund(recharge, "evt_partial") == 200
    assert list(GiftReversal.objects.values_list("sent_gift__gift__slug", "diamonds")) == [
        ("galaxy", 500)
    ]
    assert _earnings(star) == 0
    assert SentGift.objects.get(gift__slug="galaxy").reversal.recharge_id == recharge.pk
    assert _absorbed() == 0  # all taken back: nothing lost


def test_the_loss_is_what_the_kept_gifts_earned_not_the_share_of_the_coins(user):
    """Single Roses to three streams earn nothing each (the share is counted per fan per
    stream): once they have cleared, a refund of those 3 coins costs the platform nothing."""
    recharge = paid_recharge(user=user, session_id="cs_sim_roses_loss_test")
    star = creator()
    for _ in range(3):
        stream = live_stream(star)
        sent_at(send(user, stream, "rose"), NOW - dt.timedelta(days=9))
        Stream.objects.filter(pk=stream.pk).update(status=StreamStatus.ENDED, ended_at=NOW)
    assert _earnings(star) == 0
    # What the clawback hands over when 3 of the refunded coins were already spent:
    gifts_reverse_for_clawback(recharge=recharge, coins=3)
    assert _absorbed() == 0
    assert not Entry.objects.filter(transaction__kind=TransactionKind.CHARGEBACK_LOSS).exists()


def test_the_creators_dashboard_and_csv_show_reversed_gifts(history, client):
    recharge, star, _ = history
    _refund(recharge, "evt_refund_csv")
    client.force_login(star)
    page = client.get("/creator/")
    assert page.context["earnings"].clearing == 0
    assert page.context["daily"].total == 500
    body = b"".join(client.get("/creator/earnings.csv").streaming_content).decode()
    statuses = [row[7] for row in csv.reader(io.StringIO(body))][1:]
    assert statuses.count("reversed") == 2
