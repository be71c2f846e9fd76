"""A fan refunds a purchase themselves: within RECHARGE_REFUND_HOURS of paying, while none of
its coins has been spent — a real Stripe Refund (fake server), the coins clawed back through
the ledger exactly once, the purchase marked refunded, an email; refused with a clear reason
otherwise, changing nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.helpers import postgres_only, run_threads
from tests.livestreams.factories import creator, live_stream
from tests.payouts.factories import send
from tests.wallet.factories import fund, signed, wallet_of
from wallet.demo import paid_recharge
from wallet.exceptions import RechargeError
from wallet.ledger import account_balance, ledger_audit
from wallet.models import Account, Entry, Recharge, RechargeStatus
from wallet.services import recharge_refund
from wallet.webhooks import webhook_receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _bought(user, coins=350, session="cs_sim_refund_test") -> Recharge:
    recharge = paid_recharge(user=user, session_id=session, coins=coins)
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID
    return recharge


def _refund_entries(recharge) -> list[int]:
    return sorted(
        Entry.objects.filter(transaction__idempotency_key=f"clawback:{recharge.pk}").values_list(
            "amount", flat=True
        )
    )


def test_a_fan_refunds_an_unspent_purchase_from_their_history(
    user_client, user, django_capture_on_commit_callbacks
):
    recharge = _bought(user)
    page = user_client.get("/wallet/history/").content.decode()
    assert f"/wallet/recharge/{recharge.pk}/refund/" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/wallet/recharge/{recharge.pk}/refund/", follow=True)
    assert "Refunded: 350 coins left your wallet and $3.70 goes back to your card." in (
        response.content.decode()
    )
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.REFUNDED
    assert account_balance(wallet_of(user)) == 0
    assert _refund_entries(recharge) == [-350, 350]
    assert not Account.objects.get(pk=wallet_of(user).pk).frozen
    assert mail.outbox[-1].subject == "Refund of $3.70" and mail.outbox[-1].to == [user.email]
    assert "refunded by the fan" in recharge.status_changes.last().note
    # Again (a double click, a replayed form): refused, nothing more moves.
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/wallet/recharge/{recharge.pk}/refund/", follow=True)
    assert "Only a paid purchase can be refunded." in response.content.decode()
    assert _refund_entries(recharge) == [-350, 350] and len(mail.outbox) == 1
    assert (
        f"/wallet/recharge/{recharge.pk}/refund/"
        not in user_client.get("/wallet/history/").content.decode()
    )


def test_refunding_one_purchase_leaves_another_refundable(user):
    older = _bought(user, coins=5000, session="cs_sim_refund_older")
    newer = _bought(user, coins=350, session="cs_sim_refund_newer")
    recharge_refund(user=user, recharge_id=newer.pk)
    recharge_refund(user=user, recharge_id=older.pk)  # a refund is not spending
    assert account_balance(wallet_of(user)) == 0


def test_spent_coins_make_a_purchase_unrefundable(user):
    recharge = _bought(user)
    stream = live_stream(creator())
    send(user, stream, "rose")  # 1 coin of the 350
    with pytest.raises(RechargeError, match="Coins have been spent since this purchase"):
        recharge_refund(user=user, recharge_id=recharge.pk)
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID and account_balance(wallet_of(user)) == 349


def test_coins_spent_from_an_older_purchase_count_as_spent_too(user):
    fund(user, 100)
    recharge = _bought(user)
    send(user, live_stream(creator()), "rose")  # the wallet doesn't know which coin was whose
    with pytest.raises(RechargeError, match="Coins have been spent"):
        recharge_refund(user=user, recharge_id=recharge.pk)


def test_the_window_closes_after_48_hours(user):
    recharge = _bought(user)
    later = timezone.now() + dt.timedelta(hours=48, seconds=1)
    with (
        time_machine.travel(later),
        pytest.raises(RechargeError, match="refunded for 48 hours after payment"),
    ):
        recharge_refund(user=user, recharge_id=recharge.pk)
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID


def test_a_frozen_wallet_cannot_refund(user):
    recharge = _bought(user)
    Account.objects.filter(pk=wallet_of(user).pk).update(frozen=True)
    with pytest.raises(RechargeError, match="frozen"):
        recharge_refund(user=user, recharge_id=recharge.pk)


def test_a_purchase_staff_are_reviewing_cannot_be_refunded_here(user):
    recharge = _bought(user)
    Recharge.objects.filter(pk=recharge.pk).update(needs_review=True)
    with pytest.raises(RechargeError, match="Staff are looking at this purchase"):
        recharge_refund(user=user, recharge_id=recharge.pk)


def test_someone_elses_purchase_is_not_found(client, user):
    recharge = _bought(user)
    client.force_login(UserFactory())
    assert client.post(f"/wallet/recharge/{recharge.pk}/refund/").status_code == 404
    assert client.get(f"/wallet/recharge/{recharge.pk}/refund/").status_code == 405
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID


# ----------------------------------------------------------------------------- Stripe


def _stripe_bought(user) -> Recharge:
    recharge = Recharge.objects.create(
        user=user, coins=350, amount_minor=370, currency="USD", provider="stripe",
        provider_session_id="cs_test_refund", payment_intent_id="",
    )  # fmt: skip
    from wallet.services import recharge_fulfil

    recharge_fulfil(
        session_id="cs_test_refund", amount_total=370, currency="usd", payment_intent="pi_refund_1"
    )
    recharge.refresh_from_db()
    return recharge


def test_a_stripe_purchase_is_refunded_at_stripe_once_and_the_webhook_after_changes_nothing(
    user, fake_stripe
):
    recharge = _stripe_bought(user)
    recharge_refund(user=user, recharge_id=recharge.pk)
    [refund] = [r for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert refund.form["payment_intent"] == "pi_refund_1"
    assert refund.form["reason"] == "requested_by_customer"
    assert refund.headers["Idempotency-Key"] == f"giftcast-refund-{recharge.pk}"
    assert account_balance(wallet_of(user)) == 0
    # Stripe then says so too: the clawback is not applied twice.
    event = {"id": "evt_refunded_after", "object": "event", "type": "charge.refunded",
             "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_refund_1",
                                 "amount": 370, "amount_refunded": 370}}}  # fmt: skip
    body, sig = signed(event)
    assert webhook_receive(payload=body, signature=sig).status_code == 200
    assert _refund_entries(recharge) == [-350, 350] and account_balance(wallet_of(user)) == 0


def test_a_stripe_purchase_without_a_recorded_payment_is_not_sent_to_stripe(user, fake_stripe):
    recharge = _stripe_bought(user)
    Recharge.objects.filter(pk=recharge.pk).update(payment_intent_id="")
    with pytest.raises(RechargeError, match="no payment is recorded"):
        recharge_refund(user=user, recharge_id=recharge.pk)
    assert not [r for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert account_balance(wallet_of(user)) == 350


def test_a_refund_stripe_refuses_changes_nothing(user, fake_stripe):
    recharge = _stripe_bought(user)
    fake_stripe.fail_refund = True
    with pytest.raises(RechargeError, match="could not refund this purchase .*Nothing changed"):
        recharge_refund(user=user, recharge_id=recharge.pk)
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID and account_balance(wallet_of(user)) == 350
    assert not mail.outbox


# ----------------------------------------------------------------------------- races


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refund_racing_a_gift_lets_exactly_one_of_them_through(settings):
    for round_ in range(4):
        user = UserFactory()
        recharge = paid_recharge(user=user, session_id=f"cs_sim_race_{round_}", coins=350)
        stream = live_stream(creator())

        def act(i: int, user=user, recharge=recharge, stream=stream):
            if i == 0:
                return recharge_refund(user=user, recharge_id=recharge.pk)
            return send(user, stream, "rose")

        results = run_threads(2, act)
        refunded = isinstance(results[0], Recharge)
        gifted = not isinstance(results[1], Exception)
        assert refunded != gifted, results  # never both, never neither
        recharge.refresh_from_db()
        balance = account_balance(wallet_of(user))
        if refunded:
            assert recharge.status == RechargeStatus.REFUNDED and balance == 0
        else:
            assert recharge.status == RechargeStatus.PAID and balance == 349
    assert ledger_audit().ok
    connection.close()
