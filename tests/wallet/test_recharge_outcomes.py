"""What a purchase that didn't go through says: a declined card ("Card declined — not
charged", the checkout still open), an abandoned checkout ("Awaiting payment", then
`expired` after RECHARGE_CHECKOUT_HOURS through the path Stripe's expiry takes)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.wallet.factories import signed, wallet_of
from wallet.ledger import account_balance
from wallet.models import CoinPackage, Recharge, RechargeStatus, WebhookEvent
from wallet.services import recharge_create, recharges_expire

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]
WEBHOOK = "/wallet/stripe/webhook/"
DECLINED = {"number": "4000000000000002", "expiry": "12/34", "cvc": "123", "name": "Demo Fan"}
PAYS = DECLINED | {"number": "4242424242424242"}
LATER = dt.timedelta(hours=25)


def _open(user) -> Recharge:
    return recharge_create(
        user=user, currency="USD", package=CoinPackage.objects.get(coins=350, bonus_coins=0),
        success_url="http://t/s/", cancel_url="http://t/c/",
    )  # fmt: skip


def _history(client) -> str:
    return client.get("/wallet/history/").content.decode()


def _csv_words(client) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(client.get("/wallet/history.csv").content.decode())))
    return [row["what_happened"] for row in rows]


def test_a_declined_card_says_so_and_the_checkout_stays_open(user_client, user):
    recharge = _open(user)
    url = reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
    assert user_client.post(url, DECLINED).status_code == 402
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PENDING and recharge.declined_at is not None
    page = _history(user_client)
    assert "Card declined — not charged" in page and "Pending" not in page
    assert f'<a class="small" href="{recharge.checkout_url}">continue' in page
    assert "Card declined — not charged" in user_client.get("/wallet/").content.decode()
    assert _csv_words(user_client) == ["Card declined — not charged"]
    # Another card may still pay the same checkout.
    assert user_client.post(url, PAYS).status_code == 302
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID and recharge.status_words == "Paid"
    assert account_balance(wallet_of(user)) == 350


def test_an_abandoned_checkout_awaits_payment_then_expires(user_client, user):
    old = _open(user)
    assert "Awaiting payment" in _history(user_client)
    assert recharges_expire() == 0  # not yet 24 hours
    with time_machine.travel(timezone.now() + LATER):
        recent = _open(user)  # opened a day later: still open after the run
        call_command("recharges_expire")
        old.refresh_from_db()
        recent.refresh_from_db()
        assert (old.status, recent.status) == (RechargeStatus.EXPIRED, RechargeStatus.PENDING)
        change = old.status_changes.get()
        assert (change.from_status, change.to_status) == ("pending", "expired")
        assert "not finished within 24 hours" in change.note
        assert recharges_expire() == 0  # a second run changes nothing
        page = _history(user_client)
        assert "Checkout expired — not charged" in page
        assert page.count(">continue<") == 1  # only the open one can be continued
        # The expired checkout can no longer be paid.
        url = reverse("wallet:simulated_checkout", args=[old.provider_session_id])
        assert user_client.post(url, PAYS).status_code == 302
    old.refresh_from_db()
    assert old.status == RechargeStatus.EXPIRED and account_balance(wallet_of(user)) == 0


def test_admin_lists_what_happened_and_filters_expired(client, user):
    declined, abandoned = _open(user), _open(user)
    declined.declined_at = timezone.now()
    declined.save()
    with time_machine.travel(timezone.now() + LATER):
        recharges_expire()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/wallet/recharge/?status__exact=expired").content.decode()
    assert "Card declined — not charged" in page and "Checkout expired — not charged" in page
    assert Recharge.objects.filter(status=RechargeStatus.EXPIRED).count() == 2
    assert abandoned.pk


# ----------------------------------------------------------------------------- Stripe


def _declined_event(recharge_id, event_id="evt_declined_1") -> dict:
    return {
        "id": event_id, "object": "event", "type": "payment_intent.payment_failed",
        "data": {"object": {
            "id": "pi_declined", "object": "payment_intent",
            "metadata": {"recharge_id": str(recharge_id)},
            "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        }},
    }  # fmt: skip


def test_stripe_declines_reach_the_history_by_the_intents_metadata(client, user, fake_stripe):
    recharge = _open(user)
    create = next(r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions")
    assert create.form["payment_intent_data[metadata][recharge_id]"] == str(recharge.pk)
    body, sig = signed(_declined_event(recharge.pk))
    response = client.post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
    )
    assert response.status_code == 200
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PENDING
    assert recharge.status_words == "Card declined — not charged"
    assert recharge.decline_message == "Your card was declined."
    # A payment of no recharge here, or of one already closed, changes nothing.
    for n, recharge_id in enumerate(["", "999999", "1 OR 1=1", "²", "١", "9" * 5000, 7]):
        body, sig = signed(_declined_event(recharge_id, event_id=f"evt_other_{n}"))
        client.post(WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig)
    assert set(
        WebhookEvent.objects.exclude(event_id="evt_declined_1").values_list("status", flat=True)
    ) == {"ignored"}


def test_stale_stripe_checkouts_are_asked_before_they_expire(user, fake_stripe):
    still_open, expired, paid, settling = _open(user), _open(user), _open(user), _open(user)
    fake_stripe.sessions[expired.provider_session_id]["status"] = "expired"
    fake_stripe.pay(paid.provider_session_id)
    fake_stripe.sessions[settling.provider_session_id]["status"] = "complete"  # a bank debit
    with time_machine.travel(timezone.now() + LATER):
        assert recharges_expire() == 1
    for recharge in (still_open, expired, paid, settling):
        recharge.refresh_from_db()
    assert still_open.status == RechargeStatus.PENDING  # Stripe will expire it, and tell us
    assert settling.status == RechargeStatus.PENDING  # async_payment_succeeded will end it
    assert expired.status == RechargeStatus.EXPIRED
    assert paid.status == RechargeStatus.PAID  # it was paid after all: fulfilled, not expired
    assert account_balance(wallet_of(user)) == 350
