"""PAYOUT_PROVIDER=stripe: Stripe Connect with the real stripe library against a local fake
of Stripe's API — onboarding, a Transfer on approval, and the signed, once-only Connect
webhook that records the account's status and ends the payout."""

from __future__ import annotations

import datetime as dt
import html
import json
import uuid

import pytest
from django.core import mail

from payouts import exceptions as errors
from payouts import providers
from payouts.models import Payout, PayoutMethod, PayoutStatus, StripeAccount
from payouts.providers import PayoutProviderError, StripeConnectProvider
from payouts.services import payout_approve, payout_request, payout_transition
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD
from tests.payouts.factories import earning_creator, login_with_mfa, paypal, sent_at
from tests.wallet import stripe_fake
from wallet.ledger import account_balance, account_get
from wallet.models import Purpose, WebhookEvent, WebhookEventStatus
from wallet.payments import sign_payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

SECRET = "whsec_test_connect"
WEBHOOK = "/creator/stripe/webhook/"
CLEARED = dt.timedelta(days=8)


@pytest.fixture
def fake_stripe(settings):
    fake, server = stripe_fake.start()
    settings.PAYOUT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_giftcast_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_recharges"
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = SECRET
    settings.STRIPE_API_BASE = fake.url
    yield fake
    server.shutdown()


@pytest.fixture
def owner():
    """A creator with 10 cleared Galaxies (5,000 diamonds = $25), MFA on, no method yet."""
    user, stream, _ = earning_creator(gifts=10, method=False, password=PASSWORD)
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    return user


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def _connect(owner, fake) -> StripeAccount:
    """Onboard `owner` as the pages do, with Stripe enabling payouts at the end."""
    provider = StripeConnectProvider()
    provider.onboarding_url(creator=owner, return_url="https://r/", refresh_url="https://f/")
    account = StripeAccount.objects.get(creator=owner)
    fake.enable_payouts(account.account_id)
    return provider.account_sync(account_id=account.account_id)


def _processing(owner, fake, staff, diamonds=4_000) -> Payout:
    account = _connect(owner, fake)
    payout = payout_request(creator=owner, diamonds=diamonds, key=str(uuid.uuid4()))
    payout = payout_approve(payout_id=payout.pk, by=staff)
    assert payout.status == PayoutStatus.PROCESSING
    assert account.account_id
    return payout


def _balances(user) -> tuple[int, int]:
    return (
        account_balance(account_get(owner=user, purpose=Purpose.EARNINGS)),
        account_balance(account_get(owner=user, purpose=Purpose.PAYOUT_HOLD)),
    )


def _event(type_: str, obj: dict, *, account: str | None = None, event_id: str | None = None):
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1_790_000_000,
        "livemode": False,
        "type": type_,
        "data": {"object": obj},
    }
    if account is not None:
        event["account"] = account
    return event


def _post(client, event: dict, *, secret: str = SECRET):
    payload = json.dumps(event)
    return client.post(
        WEBHOOK,
        payload.encode(),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_payload(payload, secret=secret),
    )


def _reauthenticated_client(client, owner):
    login_with_mfa(client, owner, PASSWORD)
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    return client


# ----------------------------------------------------------------------------- onboarding


def test_connect_with_stripe_creates_one_express_account_and_redirects_to_its_link(
    client, fake_stripe, owner
):
    client = _reauthenticated_client(client, owner)
    page = client.get("/creator/payouts/method/").content.decode()
    assert "Connect with Stripe" in page and "Save payout method" not in page

    response = client.post("/creator/payouts/method/stripe/")
    account = StripeAccount.objects.get(creator=owner)
    assert response.status_code == 302
    assert response["Location"] == f"https://connect.stripe.com/setup/e/{account.account_id}/link"
    assert not account.payouts_enabled and not account.details_submitted

    create, link = fake_stripe.requests
    assert (create.method, create.path) == ("POST", "/v1/accounts")
    assert create.headers["Authorization"] == "Bearer sk_test_giftcast_fake"
    assert create.headers["Idempotency-Key"] == f"giftcast-account-{owner.pk}"
    assert create.form["type"] == "express"
    assert create.form["email"] == owner.email
    assert create.form["capabilities[transfers][requested]"] == "true"
    assert (link.method, link.path) == ("POST", "/v1/account_links")
    assert link.form == {
        "account": account.account_id,
        "type": "account_onboarding",
        "refresh_url": "http://testserver/creator/payouts/method/stripe/",
        "return_url": "http://testserver/creator/payouts/method/stripe/return/",
    }

    # Stripe sends the creator back to refresh an expired link: a new link, same account.
    response = client.get("/creator/payouts/method/stripe/")
    assert response.status_code == 302
    assert [r.path for r in fake_stripe.requests[2:]] == ["/v1/account_links"]
    assert StripeAccount.objects.count() == 1
    page = client.get("/creator/payouts/method/").content.decode()
    assert "Finish onboarding with Stripe" in page


def test_back_from_onboarding_the_account_becomes_the_payout_method(client, fake_stripe, owner):
    old = paypal(owner)
    client = _reauthenticated_client(client, owner)
    client.post("/creator/payouts/method/stripe/")
    account = StripeAccount.objects.get(creator=owner)

    # Not finished on Stripe's side: nothing changes but the flags.
    response = client.get("/creator/payouts/method/stripe/return/", follow=True)
    assert "hasn't enabled payouts" in html.unescape(response.content.decode())
    assert PayoutMethod.objects.get(creator=owner, active=True) == old

    fake_stripe.enable_payouts(account.account_id)
    response = client.get("/creator/payouts/method/stripe/return/", follow=True)
    assert fake_stripe.requests[-1].path == f"/v1/accounts/{account.account_id}"
    assert "Your Stripe account is connected" in response.content.decode()
    account.refresh_from_db()
    assert account.payouts_enabled and account.details_submitted
    method = PayoutMethod.objects.get(creator=owner, active=True)
    assert method.kind == "stripe" and method.masked == "Stripe ••••wxyz"
    old.refresh_from_db()
    assert not old.active and old.retired_at is not None
    assert "Stripe ••••wxyz" in response.content.decode()
    # Syncing again makes no second method.
    StripeConnectProvider().account_sync(account_id=account.account_id)
    assert PayoutMethod.objects.filter(creator=owner).count() == 2


def test_method_change_email_names_the_stripe_account(django_capture_on_commit_callbacks, owner,
                                                      fake_stripe):  # fmt: skip
    paypal(owner)
    with django_capture_on_commit_callbacks(execute=True):
        _connect(owner, fake_stripe)
    [email] = mail.outbox
    assert email.subject == "[Giftcast] Payout method changed"
    assert "Stripe ••••wxyz" in email.body and email.to == [owner.email]


def test_a_stripe_kind_cannot_be_posted_through_the_paypal_and_bank_form(client, owner):
    client = _reauthenticated_client(client, owner)
    response = client.post("/creator/payouts/method/", {"kind": "stripe"})
    assert response.status_code == 400
    assert not PayoutMethod.objects.filter(creator=owner).exists()


def test_stripe_pages_are_not_found_with_the_manual_provider(client, owner):
    client = _reauthenticated_client(client, owner)
    assert client.post("/creator/payouts/method/stripe/").status_code == 404
    assert client.get("/creator/payouts/method/stripe/return/").status_code == 404
    assert "Connect with Stripe" not in client.get("/creator/payouts/method/").content.decode()


def test_a_stripe_error_at_onboarding_is_shown_and_stores_nothing(client, fake_stripe, owner,
                                                                  settings):  # fmt: skip
    settings.STRIPE_SECRET_KEY = ""
    client = _reauthenticated_client(client, owner)
    response = client.post("/creator/payouts/method/stripe/", follow=True)
    assert "Stripe is not configured" in response.content.decode()
    assert not StripeAccount.objects.exists() and not fake_stripe.requests


# ----------------------------------------------------------------------------- requesting


def test_requesting_needs_a_connected_account_with_payouts_enabled(fake_stripe, owner):
    paypal(owner)  # a PayPal method does not count with Stripe Connect
    with pytest.raises(errors.PayoutNotAllowed, match="Connect your Stripe account"):
        payout_request(creator=owner, diamonds=2_000, key="a")
    StripeConnectProvider().onboarding_url(creator=owner, return_url="r", refresh_url="f")
    with pytest.raises(errors.PayoutNotAllowed, match="can't pay out to your account yet"):
        payout_request(creator=owner, diamonds=2_000, key="a")
    assert not Payout.objects.exists() and _balances(owner) == (5_000, 0)

    _connect(owner, fake_stripe)
    payout = payout_request(creator=owner, diamonds=2_000, key="a")
    assert payout.provider == "stripe" and payout.method.masked == "Stripe ••••wxyz"
    assert _balances(owner) == (3_000, 2_000)


def test_the_manual_provider_refuses_a_stripe_method(fake_stripe, owner, settings):
    _connect(owner, fake_stripe)
    settings.PAYOUT_PROVIDER = "manual"
    with pytest.raises(errors.PayoutNotAllowed, match="PayPal or bank account"):
        payout_request(creator=owner, diamonds=2_000, key="a")


# ----------------------------------------------------------------------------- approval


def test_approval_sends_a_transfer_and_the_payout_is_processing(fake_stripe, owner, staff):
    account = _connect(owner, fake_stripe)
    payout = payout_request(creator=owner, diamonds=4_001, key="k")
    fake_stripe.requests.clear()

    payout = payout_approve(payout_id=payout.pk, by=staff)
    [transfer] = fake_stripe.requests
    assert (transfer.method, transfer.path) == ("POST", "/v1/transfers")
    assert transfer.headers["Idempotency-Key"] == f"giftcast-payout-{payout.pk}"
    assert transfer.form["amount"] == "2000"  # 4,000 diamonds in whole cents; one kept
    assert transfer.form["currency"] == "usd"
    assert transfer.form["destination"] == account.account_id
    assert transfer.form["metadata[payout_id]"] == str(payout.pk)

    payout.refresh_from_db()
    assert (payout.status, payout.provider_reference) == (PayoutStatus.PROCESSING, "tr_test_1")
    last = payout.history.last()
    assert (last.from_status, last.to_status, last.by) == ("approved", "processing", None)
    assert _balances(owner) == (1_000, 4_000)  # held until Stripe pays the bank


def test_a_refused_transfer_leaves_the_payout_approved_and_says_why(fake_stripe, owner, staff):
    _connect(owner, fake_stripe)
    payout = payout_request(creator=owner, diamonds=2_000, key="k")
    fake_stripe.fail_transfer = True
    with pytest.raises(PayoutProviderError, match="insufficient available funds") as caught:
        payout_approve(payout_id=payout.pk, by=staff)
    assert isinstance(caught.value, errors.PayoutError)
    assert "stays approved" in str(caught.value)
    payout.refresh_from_db()
    assert (payout.status, payout.provider_reference) == (PayoutStatus.APPROVED, "")
    assert _balances(owner) == (3_000, 2_000)


def test_admin_shows_the_transfer_error_to_staff(client, fake_stripe, owner, staff):
    _connect(owner, fake_stripe)
    payout = payout_request(creator=owner, diamonds=2_000, key="k")
    fake_stripe.fail_transfer = True
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    response = client.post(
        f"/admin/payouts/payout/{payout.pk}/act/", {"action": "approve"}, follow=True
    )
    assert "insufficient available funds" in response.content.decode()
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.APPROVED


# ----------------------------------------------------------------------------- webhook


def test_account_updated_asks_stripe_and_records_the_account_once(client, fake_stripe, owner):
    StripeConnectProvider().onboarding_url(creator=owner, return_url="r", refresh_url="f")
    account = StripeAccount.objects.get(creator=owner)
    fake_stripe.enable_payouts(account.account_id)
    # The payload is only a trigger: what counts is what Stripe answers.
    event = _event(
        "account.updated",
        {"id": account.account_id, "object": "account", "payouts_enabled": False},
        account=account.account_id,
    )
    response = _post(client, event)
    assert response.status_code == 200
    assert fake_stripe.requests[-1].path == f"/v1/accounts/{account.account_id}"
    account.refresh_from_db()
    assert account.payouts_enabled and account.details_submitted
    assert PayoutMethod.objects.get(creator=owner, active=True).kind == "stripe"
    record = WebhookEvent.objects.get(event_id=event["id"])
    assert record.status == WebhookEventStatus.PROCESSED

    sent = len(fake_stripe.requests)
    response = _post(client, event)
    assert (response.status_code, response.content) == (200, b"duplicate")
    assert len(fake_stripe.requests) == sent


def test_account_updated_for_an_account_not_ours_is_ignored(client, fake_stripe):
    response = _post(client, _event("account.updated", {"id": "acct_other"}))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEventStatus.IGNORED
    assert not fake_stripe.requests


def test_payout_paid_on_the_connected_account_marks_the_payout_paid(client, fake_stripe, owner,
                                                                    staff):  # fmt: skip
    payout = _processing(owner, fake_stripe, staff)
    account = StripeAccount.objects.get(creator=owner)
    event = _event("payout.paid", {"id": "po_1", "object": "payout"}, account=account.account_id)
    response = _post(client, event)
    assert response.status_code == 200
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID and payout.paid_at is not None
    assert payout.provider_reference == "tr_test_1"
    last = payout.history.last()
    assert (last.to_status, last.by) == ("paid", None)
    assert _balances(owner) == (1_000, 0)
    redeemed = account_balance(account_get(purpose=Purpose.DIAMONDS_REDEEMED))

    # A replay changes nothing; nor does the same news under a new id.
    assert _post(client, event).content == b"duplicate"
    response = _post(client, {**event, "id": "evt_again"})
    assert response.status_code == 200
    assert WebhookEvent.objects.get(event_id="evt_again").status == WebhookEventStatus.IGNORED
    assert account_balance(account_get(purpose=Purpose.DIAMONDS_REDEEMED)) == redeemed
    assert payout.history.filter(to_status="paid").count() == 1


def test_payout_failed_reverses_the_transfer_and_gives_the_diamonds_back(client, fake_stripe,
                                                                        owner, staff):  # fmt: skip
    payout = _processing(owner, fake_stripe, staff)
    account = StripeAccount.objects.get(creator=owner)
    event = _event(
        "payout.failed",
        {"id": "po_2", "object": "payout", "failure_message": "The bank account was closed."},
        account=account.account_id,
    )
    assert _post(client, event).status_code == 200
    reversal = fake_stripe.requests[-1]
    assert (reversal.method, reversal.path) == ("POST", "/v1/transfers/tr_test_1/reversals")
    assert reversal.headers["Idempotency-Key"] == f"giftcast-payout-{payout.pk}-reversal"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert payout.note == "The bank account was closed."
    assert _balances(owner) == (5_000, 0)

    # Stripe then tells of the reversal: the payout already failed, nothing moves again.
    response = _post(client, _event("transfer.reversed", {"id": "tr_test_1"}))
    assert response.status_code == 200
    assert "already failed" in response.content.decode()
    assert _balances(owner) == (5_000, 0)
    assert payout.history.filter(to_status="failed").count() == 1


def test_payout_failed_with_the_reversal_refused_keeps_the_payout_for_review(
    client, fake_stripe, owner, staff
):
    payout = _processing(owner, fake_stripe, staff)
    account = StripeAccount.objects.get(creator=owner)
    fake_stripe.fail_reversal = True
    event = _event("payout.failed", {"id": "po_3"}, account=account.account_id)
    assert _post(client, event).status_code == 200
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PROCESSING
    record = WebhookEvent.objects.get(event_id=event["id"])
    assert record.status == WebhookEventStatus.REVIEW and "Cannot reverse" in record.note
    assert _balances(owner) == (1_000, 4_000)  # not given back: the cash is still out


def test_transfer_reversed_fails_the_payout_with_the_diamonds_back(client, fake_stripe, owner,
                                                                   staff):  # fmt: skip
    payout = _processing(owner, fake_stripe, staff)
    assert _post(client, _event("transfer.reversed", {"id": "tr_test_1"})).status_code == 200
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED and "reversed" in payout.note
    assert _balances(owner) == (5_000, 0)


def test_transfer_reversed_after_paid_does_not_unpay_and_flags_review(client, fake_stripe, owner,
                                                                      staff):  # fmt: skip
    payout = _processing(owner, fake_stripe, staff)
    account = StripeAccount.objects.get(creator=owner)
    _post(client, _event("payout.paid", {"id": "po_4"}, account=account.account_id))
    event = _event("transfer.reversed", {"id": "tr_test_1"})
    assert _post(client, event).status_code == 200
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert WebhookEvent.objects.get(event_id=event["id"]).status == WebhookEventStatus.REVIEW
    assert _balances(owner) == (1_000, 0)


def test_events_do_not_skip_states(client, fake_stripe, owner, staff):
    """An approved payout whose transfer never went out is not paid by a payout.paid, and
    the state machine still refuses illegal moves made by the provider."""
    _connect(owner, fake_stripe)
    payout = payout_request(creator=owner, diamonds=2_000, key="k")
    account = StripeAccount.objects.get(creator=owner)
    _post(client, _event("payout.paid", {"id": "po_5"}, account=account.account_id))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED
    with pytest.raises(errors.PayoutError, match="can't be marked failed"):
        payout_transition(payout_id=payout.pk, to=PayoutStatus.FAILED, by=None, note="x")
    assert _balances(owner) == (3_000, 2_000)


def test_forged_and_foreign_signatures_are_refused_and_change_nothing(client, fake_stripe, owner,
                                                                      staff):  # fmt: skip
    payout = _processing(owner, fake_stripe, staff)
    event = _event("transfer.reversed", {"id": "tr_test_1"})
    for secret in ("whsec_forged", "whsec_test_recharges"):  # the recharge endpoint's secret
        assert _post(client, event, secret=secret).status_code == 400
    payload = json.dumps(event)
    response = client.post(WEBHOOK, payload, content_type="application/json")
    assert response.status_code == 400  # no signature at all
    stale = sign_payload(payload, secret=SECRET, timestamp=1_000_000_000)
    response = client.post(
        WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=stale
    )
    assert response.status_code == 400  # an old signature: a replay from long ago
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PROCESSING
    assert not WebhookEvent.objects.exists()


def test_several_secrets_each_verify(client, fake_stripe, owner, staff, settings):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = f"whsec_connect_accounts, {SECRET}"
    payout = _processing(owner, fake_stripe, staff)
    assert _post(client, _event("transfer.reversed", {"id": "tr_test_1"})).status_code == 200
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED


def test_without_a_secret_events_wait_with_503(client, fake_stripe, settings):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    response = _post(client, _event("transfer.reversed", {"id": "tr_x"}), secret="whsec_any")
    assert response.status_code == 503 and not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "event",
    [
        _event("payout.paid", {"id": "po_6"}),  # no connected account named
        _event("payout.failed", {"id": "po_7", "failure_message": 12}, account="acct_x"),
        _event("transfer.reversed", {"id": 5}),
        _event("account.updated", {}),
        {"id": "evt_no_type", "data": {"object": {}}},
    ],
)
def test_malformed_signed_events_are_refused(client, fake_stripe, event):
    assert _post(client, event).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_unknown_types_are_recorded_as_ignored(client, fake_stripe):
    event = _event("transfer.created", {"id": "tr_test_9"})
    response = _post(client, event)
    assert (response.status_code, response.content) == (200, b"ignored")
    assert WebhookEvent.objects.get(event_id=event["id"]).status == WebhookEventStatus.IGNORED


def test_webhook_is_csrf_exempt_and_post_only(fake_stripe):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get(WEBHOOK).status_code == 405
    event = _event("transfer.created", {"id": "tr_test_9"})
    assert _post(strict, event).status_code == 200


def test_unknown_provider_name_is_a_clear_error(settings):
    settings.PAYOUT_PROVIDER = "wire"
    with pytest.raises(PayoutProviderError, match="Unknown PAYOUT_PROVIDER 'wire'"):
        providers.get_provider()
