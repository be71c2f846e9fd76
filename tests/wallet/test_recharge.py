"""Recharge through the simulated provider, webhooks, fulfilment once, clawbacks."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.helpers import postgres_only, run_threads
from tests.wallet.factories import gift_legs, session_event, signed, wallet_of
from wallet import exceptions as errors
from wallet.ledger import account_balance, account_get, transaction_post
from wallet.models import (
    Account,
    CoinPackage,
    Entry,
    Purpose,
    Recharge,
    RechargeStatus,
    Transaction,
    TransactionKind,
    WebhookEvent,
)
from wallet.services import recharge_create
from wallet.webhooks import webhook_receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]
WEBHOOK = "/wallet/stripe/webhook/"


def _package(coins=350):
    return CoinPackage.objects.get(coins=coins, bonus_coins=0)


def _open(user, coins=350, currency="USD") -> Recharge:
    return recharge_create(
        user=user,
        currency=currency,
        package=_package(coins),
        success_url="http://t/s/",
        cancel_url="http://t/c/",
    )


def _post_event(client, event, **kw):
    body, sig = signed(event, **kw)
    return client.post(WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig)


def _coins(user) -> int:
    return account_balance(wallet_of(user))


# ----------------------------------------------------------------------------- the page flow


def test_recharge_page_lists_usd_packages_with_rate(user_client):
    response = user_client.get("/wallet/recharge/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("$0.74", "$3.70", "$52.85", "$74.00", "$1.06 / 100 coins", "30–200,000 coins"):
        assert text in body
    assert "£" not in body


def test_recharge_page_prices_in_the_fans_currency(client):
    fan = UserFactory(profile__country="GB")
    client.force_login(fan)
    body = client.get("/wallet/recharge/").content.decode()
    assert "£0.75" in body and "£3.75" in body and "£7.45" in body
    assert "$" not in body


def test_korean_won_shows_without_cents(client):
    fan = UserFactory(profile__country="KR")
    client.force_login(fan)
    body = client.get("/wallet/recharge/").content.decode()
    assert "₩5,400" in body and "₩5,400.00" not in body


def test_simulated_checkout_pays_with_4242_and_credits_once(user_client, user):
    response = user_client.post("/wallet/recharge/", {"choice": _package(350).pk})
    assert response.status_code == 303
    recharge = Recharge.objects.get(user=user)
    assert response["Location"] == reverse(
        "wallet:simulated_checkout", args=[recharge.provider_session_id]
    )
    assert (recharge.coins, recharge.amount_minor, recharge.currency) == (350, 370, "USD")

    page = user_client.get(response["Location"])
    assert "$3.70" in page.content.decode()
    card = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Demo Fan"}
    response = user_client.post(response["Location"], card)
    assert response.status_code == 302
    assert response["Location"] == f"/wallet/recharge/{recharge.pk}/success/"

    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID
    assert _coins(user) == 350
    txn = Transaction.objects.get(reference=f"recharge:{recharge.pk}")
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-350, 350]
    assert list(recharge.status_changes.values_list("from_status", "to_status")) == [
        ("pending", "paid")
    ]
    assert WebhookEvent.objects.get().status == "processed"

    result = user_client.get(response["Location"]).content.decode()
    assert "350 coins added" in result
    # Paying the same checkout again is not possible: it redirects to the result.
    again = user_client.post(
        reverse("wallet:simulated_checkout", args=[recharge.provider_session_id]), card
    )
    assert again.status_code == 302
    assert _coins(user) == 350


def test_simulated_checkout_declines_4000_0002(user_client, user):
    recharge = _open(user)
    url = reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
    card = {"number": "4000000000000002", "expiry": "12/34", "cvc": "123", "name": "Demo Fan"}
    response = user_client.post(url, card)
    assert response.status_code == 402
    assert "Your card was declined." in response.content.decode()
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PENDING
    assert _coins(user) == 0 and not Transaction.objects.exists()


def test_other_card_numbers_are_explained(user_client, user):
    recharge = _open(user)
    url = reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
    card = {"number": "5555 5555 5555 4444", "expiry": "12/34", "cvc": "123", "name": "x"}
    assert "Use a test card" in user_client.post(url, card).content.decode()
    assert "3 or 4 digits" in user_client.post(url, {**card, "cvc": "1"}).content.decode()
    assert _coins(user) == 0


def test_someone_elses_recharge_is_404(client, user, other_user):
    recharge = _open(other_user)
    client.force_login(user)
    assert client.get(f"/wallet/recharge/{recharge.pk}/success/").status_code == 404
    assert client.get(f"/wallet/recharge/{recharge.pk}/cancel/").status_code == 404
    assert (
        client.get(
            reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
        ).status_code
        == 404
    )


def test_cancelled_checkout_charges_nothing(user_client, user):
    recharge = _open(user)
    body = user_client.get(f"/wallet/recharge/{recharge.pk}/cancel/").content.decode()
    assert "Checkout cancelled" in body and "Nothing was charged" in body
    assert _coins(user) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"choice": "999999"}, "That coin package is not available."),
        ({"choice": "abc"}, "That coin package is not available."),
        ({}, "Pick a package or enter a number of coins."),
        ({"choice": "custom", "custom_coins": "29"}, "Choose between 30 and 200,000 coins."),
        ({"choice": "custom", "custom_coins": "200001"}, "Choose between 30 and 200,000 coins."),
        ({"choice": "custom", "custom_coins": "12.5"}, "Enter a whole number of coins."),
        ({"choice": "custom"}, "Enter a number of coins."),
    ],
)
def test_bad_recharge_input_is_refused_and_creates_nothing(user_client, data, message):
    response = user_client.post("/wallet/recharge/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Recharge.objects.exists()


def test_inactive_package_is_refused(user_client):
    package = _package(350)
    package.active = False
    package.save()
    response = user_client.post("/wallet/recharge/", {"choice": package.pk})
    assert "That coin package is not available." in response.content.decode()
    assert not Recharge.objects.exists()


def test_custom_amount_is_priced_at_the_largest_package_not_above_it(user_client, user):
    # The largest USD package up to 1,000 coins: 700 for 740 cents. 1,000 → 1057.14… → 1058.
    user_client.post("/wallet/recharge/", {"choice": "custom", "custom_coins": "1000"})
    recharge = Recharge.objects.get(user=user)
    assert (recharge.coins, recharge.amount_minor, recharge.package) == (1000, 1058, None)


def test_currency_not_priced_is_refused(user):
    with pytest.raises(errors.RechargeError, match="not sold in EUR"):
        recharge_create(
            user=user, currency="EUR", package=_package(350), success_url="x", cancel_url="y"
        )
    assert not Recharge.objects.exists()


def test_frozen_wallet_cannot_recharge(user_client, user):
    Account.objects.filter(pk=wallet_of(user).pk).update(frozen=True)
    response = user_client.post("/wallet/recharge/", {"choice": _package(350).pk})
    assert response.status_code == 400
    assert "frozen" in response.content.decode()
    assert not Recharge.objects.exists()


# ----------------------------------------------------------------------------- webhooks


def test_webhook_credits_once_when_delivered_ten_times(client, user):
    recharge = _open(user)
    event = session_event(recharge, event_id="evt_1")
    answers = [_post_event(client, event).status_code for _ in range(10)]
    assert answers == [200] * 10
    assert _coins(user) == 350
    assert Transaction.objects.filter(kind=TransactionKind.RECHARGE).count() == 1


def test_two_events_for_one_session_credit_once(client, user):
    recharge = _open(user)
    _post_event(client, session_event(recharge, event_id="evt_1"))
    _post_event(
        client,
        session_event(recharge, event_id="evt_2", type="checkout.session.async_payment_succeeded"),
    )
    assert _coins(user) == 350
    assert WebhookEvent.objects.count() == 2


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "tampered_body", "stale", "missing", "garbage"],
)
def test_forged_webhooks_are_refused_with_400(client, user, tamper):
    recharge = _open(user)
    event = session_event(recharge, event_id="evt_forged")
    body, sig = signed(event)
    if tamper == "wrong_secret":
        body, sig = signed(event, secret="whsec_someone_else")
    elif tamper == "tampered_body":
        body = body.replace(b'"amount_total": 370', b'"amount_total": 1')
    elif tamper == "stale":
        body, sig = signed(event, timestamp=int(time.time()) - 600)
    elif tamper == "missing":
        sig = ""
    elif tamper == "garbage":
        sig = "t=1,v1=deadbeef"
    response = client.post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
    )
    assert response.status_code == 400
    assert _coins(user) == 0
    assert not WebhookEvent.objects.exists()


def test_signed_malformed_json_is_400(client):
    from wallet.payments import sign_payload

    body = "{not json"
    response = client.post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign_payload(body)
    )
    assert response.status_code == 400


def test_webhook_get_is_405(client):
    assert client.get(WEBHOOK).status_code == 405


def test_unknown_event_type_is_ignored_with_200(client):
    response = _post_event(
        client,
        {"id": "evt_x", "object": "event", "type": "customer.created", "data": {"object": {}}},
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"


def test_unknown_session_is_ignored(client):
    event = {
        "id": "evt_y",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_nope",
                "payment_status": "paid",
                "amount_total": 1,
                "currency": "usd",
            }
        },
    }
    assert _post_event(client, event).status_code == 200
    assert WebhookEvent.objects.get().note == "no such checkout session here"


def test_unpaid_completed_session_waits_for_async_payment(client, user):
    recharge = _open(user)
    _post_event(client, session_event(recharge, event_id="evt_1", payment_status="unpaid"))
    assert _coins(user) == 0
    _post_event(
        client,
        session_event(recharge, event_id="evt_2", type="checkout.session.async_payment_succeeded"),
    )
    assert _coins(user) == 350


@pytest.mark.parametrize(
    "override", [{"amount_total": 369}, {"currency": "gbp"}, {"amount_total": None}]
)
def test_wrong_amount_or_currency_is_recorded_not_credited(client, user, override):
    recharge = _open(user)
    assert (
        _post_event(client, session_event(recharge, event_id="evt_1", **override)).status_code
        == 200
    )
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PENDING
    assert recharge.needs_review and "expected 370 USD" in recharge.review_note
    assert WebhookEvent.objects.get().status == "review"
    assert _coins(user) == 0


@pytest.mark.parametrize(
    ("event_type", "status"),
    [("checkout.session.async_payment_failed", "failed"), ("checkout.session.expired", "expired")],
)
def test_failed_or_expired_checkout_closes_without_coins(client, user, event_type, status):
    recharge = _open(user)
    _post_event(client, session_event(recharge, event_id="evt_1", type=event_type))
    recharge.refresh_from_db()
    assert recharge.status == status
    # A late "paid" for a closed recharge is flagged for staff, not credited.
    _post_event(client, session_event(recharge, event_id="evt_2"))
    recharge.refresh_from_db()
    assert recharge.needs_review and _coins(user) == 0


# ----------------------------------------------------------------------------- clawbacks


def _paid(client, user, coins=350) -> Recharge:
    recharge = _open(user, coins)
    _post_event(client, session_event(recharge, event_id=f"evt_paid_{recharge.pk}"))
    recharge.refresh_from_db()
    return recharge


def _charge_event(recharge, event_id, type="charge.refunded", **extra):
    obj = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": recharge.payment_intent_id,
        "amount": recharge.amount_minor,
        "amount_refunded": recharge.amount_minor,
    }
    obj.update(extra)
    return {"id": event_id, "type": type, "data": {"object": obj}}


def test_refund_of_unspent_coins_takes_them_back(client, user):
    recharge = _paid(client, user)
    _post_event(client, _charge_event(recharge, "evt_refund"))
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.REFUNDED
    assert _coins(user) == 0
    assert not Account.objects.get(pk=wallet_of(user).pk).frozen
    assert not Account.objects.filter(owner=user, purpose=Purpose.CLAWBACK).exists()


def test_refund_of_spent_coins_creates_debt_and_freezes(client, user):
    recharge = _paid(client, user)
    creator = UserFactory()
    transaction_post(
        kind=TransactionKind.GIFT, idempotency_key="g", legs=gift_legs(user, creator, 300, 150)
    )
    _post_event(client, _charge_event(recharge, "evt_refund"))
    wallet = Account.objects.get(pk=wallet_of(user).pk)
    assert wallet.balance == 0 and wallet.frozen
    assert "300 coins were already spent" in wallet.frozen_reason
    debt = account_get(owner=user, purpose=Purpose.CLAWBACK)
    assert account_balance(debt) == -300
    # Frozen: no more gifts.
    transaction_post(
        kind=TransactionKind.RECHARGE,
        idempotency_key="more",
        legs=[
            *__import__("wallet.ledger", fromlist=["legs"]).legs(
                (account_get(purpose=Purpose.COINS_ISSUED), -5), (wallet, 5)
            )
        ],
    )
    with pytest.raises(errors.AccountFrozen):
        transaction_post(
            kind=TransactionKind.GIFT, idempotency_key="g2", legs=gift_legs(user, creator, 5, 2)
        )


def test_dispute_claws_back_and_later_refund_moves_status_only(client, user):
    recharge = _paid(client, user)
    _post_event(client, _charge_event(recharge, "evt_dispute", type="charge.dispute.created"))
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.DISPUTED and _coins(user) == 0
    _post_event(client, _charge_event(recharge, "evt_refund"))
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.REFUNDED
    assert (
        Entry.objects.filter(transaction__reference=f"recharge:{recharge.pk}").count() == 4
    )  # credit + clawback


def test_partial_refund_is_flagged_for_review(client, user):
    recharge = _paid(client, user)
    _post_event(client, _charge_event(recharge, "evt_refund", amount_refunded=100))
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PAID and recharge.needs_review
    assert _coins(user) == 350


# ----------------------------------------------------------------------------- concurrency


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_same_webhook_from_ten_threads_credits_once(user):
    recharge = _open(user)
    body, sig = signed(session_event(recharge, event_id="evt_race"))
    results = run_threads(10, lambda i: webhook_receive(payload=body, signature=sig))
    assert [r.status_code for r in results] == [200] * 10, results
    assert _coins(user) == 350
    assert Transaction.objects.filter(kind=TransactionKind.RECHARGE).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_distinct_events_and_success_page_racing_credit_once(user, monkeypatch):
    from wallet import payments
    from wallet.services import recharge_sync

    recharge = _open(user)
    session = session_event(recharge, event_id="unused")["data"]["object"]
    monkeypatch.setattr(payments.SimulatedProvider, "checkout_retrieve", lambda self, sid: session)

    def work(i):
        if i % 2:
            body, sig = signed(session_event(recharge, event_id=f"evt_{i}"))
            return webhook_receive(payload=body, signature=sig).status_code
        return recharge_sync(recharge=Recharge.objects.get(pk=recharge.pk)).status

    results = run_threads(8, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert _coins(user) == 350
    assert Transaction.objects.filter(kind=TransactionKind.RECHARGE).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_webhook_answers_503_when_the_recharge_stays_locked(user, settings):
    """A lock held too long (another worker mid-fulfilment) gets 503 so Stripe retries."""
    from django.db import transaction

    settings.WALLET_LOCK_TIMEOUT_MS = 200
    recharge = _open(user)
    body, sig = signed(session_event(recharge, event_id="evt_locked"))
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            Recharge.objects.select_for_update().get(pk=recharge.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    try:
        result = webhook_receive(payload=body, signature=sig)
    finally:
        release.set()
        holder.join(10)
    assert (result.status_code, result.message) == (503, "busy, retry")
    assert not WebhookEvent.objects.exists()  # not recorded: the retry will apply it
    assert _coins(user) == 0
    assert webhook_receive(payload=body, signature=sig).status_code == 200
    assert _coins(user) == 350
