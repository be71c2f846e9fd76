"""The `stripe` provider: the real stripe library against a local fake of Stripe's API."""

from __future__ import annotations

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.factories import session_event, signed, wallet_of
from wallet.ledger import account_balance
from wallet.models import CoinPackage, Price, Recharge, RechargeStatus
from wallet.money import STRIPE_ZERO_DECIMAL, minor_exponent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _buy(client, user, coins=350):
    client.force_login(user)
    package = CoinPackage.objects.get(coins=coins, bonus_coins=0)
    return client.post("/wallet/recharge/", {"choice": package.pk})


def test_checkout_session_request_for_usd(client, fake_stripe):
    user = UserFactory()
    response = _buy(client, user)
    recharge = Recharge.objects.get(user=user)
    assert response.status_code == 303
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_1"
    assert recharge.provider == "stripe" and recharge.provider_session_id == "cs_test_1"

    [req] = fake_stripe.requests
    assert (req.method, req.path) == ("POST", "/v1/checkout/sessions")
    assert req.headers["Authorization"] == "Bearer sk_test_giftcast_fake"
    assert req.headers["Idempotency-Key"] == f"giftcast-recharge-{recharge.pk}"
    form = req.form
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][unit_amount]"] == "370"
    assert form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == str(recharge.pk)
    assert form["metadata[recharge_id]"] == str(recharge.pk)
    assert (
        form["success_url"]
        == f"http://testserver/wallet/recharge/{recharge.pk}/success/?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert form["cancel_url"] == f"http://testserver/wallet/recharge/{recharge.pk}/cancel/"


def test_korean_won_is_sent_without_times_100(client, fake_stripe):
    user = UserFactory(profile__country="KR")
    _buy(client, user)
    form = fake_stripe.requests[0].form
    assert form["line_items[0][price_data][currency]"] == "krw"
    assert form["line_items[0][price_data][unit_amount]"] == "5400"


def test_success_page_retrieves_the_session_and_credits_once(client, fake_stripe):
    user = UserFactory()
    _buy(client, user)
    recharge = Recharge.objects.get(user=user)
    # Not paid yet: the page says so and credits nothing.
    body = client.get(
        f"/wallet/recharge/{recharge.pk}/success/?session_id=cs_test_1"
    ).content.decode()
    assert "Payment processing" in body
    assert account_balance(wallet_of(user)) == 0

    fake_stripe.pay("cs_test_1")
    body = client.get(
        f"/wallet/recharge/{recharge.pk}/success/?session_id=cs_test_1"
    ).content.decode()
    assert "350 coins added" in body
    assert fake_stripe.requests[-1].path == "/v1/checkout/sessions/cs_test_1"
    # The webhook arriving afterwards changes nothing.
    body_bytes, sig = signed(
        session_event(Recharge.objects.get(pk=recharge.pk), event_id="evt_late"),
        secret="whsec_test_giftcast",
    )
    response = client.post(
        "/wallet/stripe/webhook/",
        body_bytes,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sig,
    )
    assert response.status_code == 200
    assert account_balance(wallet_of(user)) == 350


def test_webhook_signed_with_another_secret_is_refused(client, fake_stripe):
    user = UserFactory()
    _buy(client, user)
    recharge = Recharge.objects.get(user=user)
    body, sig = signed(session_event(recharge, event_id="evt_1"), secret="whsec_not_ours")
    response = client.post(
        "/wallet/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
    )
    assert response.status_code == 400
    assert account_balance(wallet_of(user)) == 0


def test_provider_error_fails_the_recharge_and_says_so(client, fake_stripe):
    fake_stripe.fail_create = True
    user = UserFactory()
    response = _buy(client, user)
    assert response.status_code == 400
    assert "could not start your checkout" in response.content.decode()
    recharge = Recharge.objects.get(user=user)
    assert recharge.status == RechargeStatus.FAILED
    assert "Invalid currency" in recharge.status_changes.get().note


def test_every_priced_currency_agrees_with_stripe_on_decimals():
    for currency in Price.objects.values_list("currency", flat=True).distinct():
        assert (minor_exponent(currency) == 0) == (currency in STRIPE_ZERO_DECIMAL), currency
