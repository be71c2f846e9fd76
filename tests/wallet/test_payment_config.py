"""Which provider takes the money: system checks, the webhook secret, closed test checkouts,
and the notice every payment page shows while no real money moves."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.urls import reverse

from tests.wallet.factories import session_event, signed, wallet_of
from wallet.ledger import account_balance
from wallet.models import CoinPackage, Recharge, RechargeStatus, WebhookEvent
from wallet.payments import stripe_key_mode, webhook_secret
from wallet.services import recharge_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]
WEBHOOK = "/wallet/stripe/webhook/"
NOTICE = "Test payments: no real money."
CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Demo Fan"}
LIVE = "sk_live_giftcast_0123456789"


def _open(user) -> Recharge:
    return recharge_create(
        user=user,
        currency="USD",
        package=CoinPackage.objects.get(coins=350, bonus_coins=0),
        success_url="http://t/s/",
        cancel_url="http://t/c/",
    )


def _use_stripe(settings, *, key="sk_test_giftcast_fake", webhook="whsec_test_giftcast"):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = key
    settings.STRIPE_WEBHOOK_SECRET = webhook


def _payment_errors(*, deploy: bool = True) -> list[str]:
    return sorted(
        m.id for m in run_checks(include_deployment_checks=deploy) if m.id.startswith("wallet.")
    )


# ----------------------------------------------------------------------------- system checks


def test_simulated_payments_under_production_settings_fail_check_deploy(settings):
    settings.PRODUCTION = True
    settings.PAYMENT_PROVIDER = "simulated"
    assert _payment_errors() == ["wallet.E010"]
    message = next(m for m in run_checks(include_deployment_checks=True) if m.id == "wallet.E010")
    assert message.is_serious() and "4242" in message.msg


def test_simulated_payments_outside_production_pass(settings):
    settings.PAYMENT_PROVIDER = "simulated"
    assert _payment_errors() == []


def test_stripe_key_without_webhook_secret_fails_check_deploy(settings):
    _use_stripe(settings, webhook="")
    assert _payment_errors() == ["wallet.E011"]
    assert _payment_errors(deploy=False) == []


def test_webhook_secret_that_is_not_one_fails_check_deploy(settings):
    _use_stripe(settings, webhook="sk_test_pasted_the_wrong_value")
    assert _payment_errors() == ["wallet.E012"]


def test_stripe_without_a_key_fails_every_check(settings):
    _use_stripe(settings, key="")
    assert "wallet.E002" in _payment_errors(deploy=False)


def test_unknown_provider_fails_every_check(settings):
    settings.PAYMENT_PROVIDER = "strpe"
    assert _payment_errors(deploy=False) == ["wallet.E001"]


def test_secret_key_that_is_not_one_fails_check_deploy(settings):
    _use_stripe(settings, key="pk_test_publishable_by_mistake")
    assert _payment_errors() == ["wallet.E013"]


@pytest.mark.parametrize(
    ("key", "publishable", "errors"),
    [
        ("sk_test_abc", "pk_live_abc", ["wallet.E015"]),
        (LIVE, "pk_test_abc", ["wallet.E015"]),
        (LIVE, "pk_live_abc", []),
        ("sk_test_abc", "pk_test_abc", []),
        ("rk_test_abc", "pk_test_abc", []),
        ("sk_test_abc", "sk_test_abc", ["wallet.E014"]),
    ],
)
def test_test_and_live_keys_must_not_be_mixed(settings, key, publishable, errors):
    settings.PRODUCTION = True  # a live key is only allowed here
    _use_stripe(settings, key=key)
    settings.STRIPE_PUBLISHABLE_KEY = publishable
    assert _payment_errors() == errors


def test_live_key_outside_production_fails_every_check(settings):
    _use_stripe(settings, key=LIVE)
    assert _payment_errors(deploy=False) == ["wallet.E003"]
    settings.PRODUCTION = True
    assert _payment_errors() == []


def test_production_with_a_test_key_and_webhook_secret_passes(settings):
    settings.PRODUCTION = True
    _use_stripe(settings)
    assert _payment_errors() == []


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        ("sk_test_1", "test"),
        ("sk_live_1", "live"),
        ("rk_live_1", "live"),
        ("pk_live_1", None),
        ("sk_test_", None),
        ("whsec_1", None),
        ("", None),
    ],
)
def test_stripe_key_mode_reads_the_prefix(key, mode):
    assert stripe_key_mode(key) == mode


# ----------------------------------------------------------------------------- webhook secret


def test_stripe_events_are_never_verified_with_a_derived_secret(client, user, settings):
    recharge = _open(user)
    derived = webhook_secret()  # the simulated provider's own
    _use_stripe(settings, webhook="")
    body, sig = signed(session_event(recharge, event_id="evt_derived"), secret=derived)
    response = client.post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
    )
    # Our configuration is missing, not the event: 503, so Stripe keeps retrying it.
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()
    assert account_balance(wallet_of(user)) == 0


def test_simulated_events_use_the_webhook_secret_when_one_is_set(client, user, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_shared"
    recharge = _open(user)
    body, sig = signed(session_event(recharge, event_id="evt_shared"), secret="whsec_shared")
    assert (
        client.post(
            WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
        ).status_code
        == 200
    )
    assert account_balance(wallet_of(user)) == 350


# ----------------------------------------------------------------------------- closed checkouts


def test_simulated_checkout_opened_before_the_switch_to_stripe_cannot_be_paid(
    user_client, user, settings
):
    recharge = _open(user)
    url = reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
    assert user_client.get(url).status_code == 200
    _use_stripe(settings)

    page = user_client.get(url)
    assert page.status_code == 410
    assert "This test checkout is closed" in page.content.decode()
    assert 'name="number"' not in page.content.decode()
    response = user_client.post(url, CARD)
    assert response.status_code == 410
    recharge.refresh_from_db()
    assert recharge.status == RechargeStatus.PENDING
    assert account_balance(wallet_of(user)) == 0
    assert not WebhookEvent.objects.exists()


def test_simulated_checkout_pays_again_once_simulated_is_back(user_client, user, settings):
    recharge = _open(user)
    url = reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
    _use_stripe(settings)
    assert user_client.post(url, CARD).status_code == 410
    settings.PAYMENT_PROVIDER = "simulated"
    assert user_client.post(url, CARD).status_code == 302
    assert account_balance(wallet_of(user)) == 350


def test_simulated_checkout_never_pays_a_recharge_of_another_provider(user_client, user):
    recharge = _open(user)
    Recharge.objects.filter(pk=recharge.pk).update(provider="stripe")
    url = reverse("wallet:simulated_checkout", args=[recharge.provider_session_id])
    assert user_client.post(url, CARD).status_code == 404
    assert account_balance(wallet_of(user)) == 0


# ----------------------------------------------------------------------------- the notice


def test_every_payment_page_says_test_payments_while_simulated(user_client, user):
    package = CoinPackage.objects.get(coins=350, bonus_coins=0)
    assert NOTICE in user_client.get("/wallet/recharge/").content.decode()
    checkout = user_client.post("/wallet/recharge/", {"choice": package.pk})
    assert NOTICE in user_client.get(checkout["Location"]).content.decode()
    recharge = Recharge.objects.get(user=user)
    cancel = user_client.get(reverse("wallet:recharge_cancel", args=[recharge.pk]))
    assert NOTICE in cancel.content.decode()
    paid = user_client.post(checkout["Location"], CARD, follow=True)
    assert "350 coins added" in paid.content.decode()
    assert NOTICE in paid.content.decode()


def test_payment_pages_say_test_payments_with_a_stripe_test_key(user_client, settings):
    _use_stripe(settings)
    assert NOTICE in user_client.get("/wallet/recharge/").content.decode()


def test_payment_pages_take_real_money_quietly_with_a_live_key(user_client, user, settings):
    settings.PRODUCTION = True
    _use_stripe(settings, key=LIVE)
    assert NOTICE not in user_client.get("/wallet/recharge/").content.decode()
    recharge = Recharge.objects.create(
        user=user, coins=350, amount_minor=370, currency="USD", provider="stripe"
    )
    page = user_client.get(reverse("wallet:recharge_cancel", args=[recharge.pk]))
    assert NOTICE not in page.content.decode()


def test_production_with_simulated_payments_set_explicitly_says_so(user_client, settings):
    settings.PRODUCTION = True
    settings.PAYMENT_PROVIDER = "simulated"
    body = user_client.get("/wallet/recharge/").content.decode()
    assert NOTICE in body and 'data-testid="test-payments"' in body
