"""Payment providers. Every call to Stripe lives here, so tests fake one place.

`stripe`: the real `stripe` library creates a Checkout Session in test mode.
`simulated`: a local checkout page (wallet.views.simulated_checkout) that answers like
Stripe's test cards and then drives the very same webhook handler with a signed event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import stripe
from django.conf import settings
from django.urls import reverse

from .models import Recharge

SIMULATED_PAY_CARD = "4242424242424242"
SIMULATED_DECLINE_CARD = "4000000000000002"


WEBHOOK_SECRET_MISSING = (
    "STRIPE_WEBHOOK_SECRET is not set, so Stripe's events cannot be verified: set it to the "
    "signing secret of the webhook endpoint (whsec_…)."
)


class PaymentProviderError(Exception):
    """The provider could not be reached or refused the request."""


class WebhookSecretMissing(PaymentProviderError):
    """Stripe is the provider but no webhook signing secret is configured."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def webhook_secret() -> str:
    """STRIPE_WEBHOOK_SECRET, or (simulated payments only) one derived from SECRET_KEY.

    Stripe signs with the endpoint's own secret, so a derived one would refuse every real
    event: with the Stripe provider and no secret set this raises WebhookSecretMissing.
    """
    if settings.STRIPE_WEBHOOK_SECRET:
        return settings.STRIPE_WEBHOOK_SECRET
    if not simulated_in_force():
        raise WebhookSecretMissing(WEBHOOK_SECRET_MISSING)
    digest = hmac.new(settings.SECRET_KEY.encode(), b"giftcast-simulated-webhook", hashlib.sha256)
    return "whsec_sim_" + digest.hexdigest()


def sign_payload(payload: str, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = secret or webhook_secret()
    signature = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={signature}"


def verify_signature(payload: bytes, signature: str | None) -> str:
    """The body as text, once its signature checks out (SignatureVerificationError if not).

    Only the signature is checked here: what the body says is for the caller to decode
    (wallet.webhooks.event_decode). A body that is not UTF-8 raises UnicodeDecodeError.
    """
    text = payload.decode("utf-8")
    stripe.WebhookSignature.verify_header(text, signature, webhook_secret(), tolerance=300)
    return text


def simulated_in_force() -> bool:
    """Whether the simulated provider is the one the site takes payments with now."""
    provider: str = settings.PAYMENT_PROVIDER
    return provider == SimulatedProvider.name


def payments_are_test_mode() -> bool:
    """True when no real money moves: the simulated provider, or Stripe with a test key."""
    return simulated_in_force() or stripe_key_mode(settings.STRIPE_SECRET_KEY) != "live"


def stripe_key_mode(key: str, *, kinds: tuple[str, ...] = ("sk", "rk")) -> str | None:
    """`test` or `live` from a Stripe key's prefix (`sk_test_…`), None if it is not one of
    `kinds` (secret and restricted keys by default; ("pk",) for publishable keys)."""
    kind, _, rest = key.partition("_")
    mode, _, secret = rest.partition("_")
    if kind in kinds and mode in ("test", "live") and secret:
        return mode
    return None


class StripeProvider:
    name = "stripe"

    def _client(self, *, timeout: float | None = None, retries: int = 2) -> stripe.StripeClient:
        if not settings.STRIPE_SECRET_KEY:
            raise PaymentProviderError("Stripe is not configured (STRIPE_SECRET_KEY).")
        base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
        http = stripe.new_default_http_client(timeout=timeout) if timeout else None
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=retries,
            http_client=http,
        )  # fmt: skip

    def checkout_create(
        self, *, recharge: Recharge, success_url: str, cancel_url: str
    ) -> CheckoutSession:
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": recharge.currency.lower(),
                        # Minor units; for zero-decimal currencies (KRW) that is whole won.
                        "unit_amount": recharge.amount_minor,
                        "product_data": {"name": f"{recharge.coins:,} Giftcast coins"},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": str(recharge.pk),
            "metadata": {"recharge_id": str(recharge.pk), "coins": str(recharge.coins)},
            # A declined card's payment_intent.payment_failed names its recharge.
            "payment_intent_data": {"metadata": {"recharge_id": str(recharge.pk)}},
            "customer_email": recharge.user.email,
            "success_url": success_url + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": cancel_url,
        }
        try:
            session = self._client().v1.checkout.sessions.create(
                params, options={"idempotency_key": f"giftcast-recharge-{recharge.pk}"}
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(str(exc.user_message or exc)) from exc
        return CheckoutSession(id=session.id, url=session.url)

    def refund(self, *, recharge: Recharge) -> str:
        """A real Stripe Refund of the recharge's payment, once per recharge (the idempotency
        key); returns its id. Called with the fan's wallet row locked, so it gives up after
        10 seconds without retrying (the fan may simply try again: same key, same refund)."""
        if not recharge.payment_intent_id:
            raise PaymentProviderError("no payment is recorded for this purchase")
        try:
            refund = self._client(timeout=10, retries=0).v1.refunds.create(
                {
                    "payment_intent": recharge.payment_intent_id,
                    "reason": "requested_by_customer",
                    "metadata": {"recharge_id": str(recharge.pk)},
                },
                options={"idempotency_key": f"giftcast-refund-{recharge.pk}"},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(str(exc.user_message or exc)) from exc
        return refund.id

    def checkout_retrieve(self, session_id: str) -> dict | None:
        try:
            session = self._client().v1.checkout.sessions.retrieve(session_id)
        except stripe.StripeError as exc:
            raise PaymentProviderError(str(exc.user_message or exc)) from exc
        return session.to_dict()


class SimulatedProvider:
    name = "simulated"

    def checkout_create(
        self, *, recharge: Recharge, success_url: str, cancel_url: str
    ) -> CheckoutSession:
        session_id = f"cs_sim_{secrets.token_urlsafe(18)}"
        return CheckoutSession(
            id=session_id, url=reverse("wallet:simulated_checkout", args=[session_id])
        )

    def checkout_retrieve(self, session_id: str) -> dict | None:
        # The simulated checkout reports only through signed events, as Stripe's webhooks do.
        return None

    def refund(self, *, recharge: Recharge) -> str:
        """No money moved, so none goes back: the refund is the ledger's clawback alone."""
        return f"re_sim_{recharge.pk}"

    @staticmethod
    def completed_event(
        recharge: Recharge, *, event_type: str = "checkout.session.completed"
    ) -> str:
        """A Stripe-shaped event for a paid simulated checkout, as a JSON string."""
        event = {
            "id": f"evt_sim_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {
                "object": {
                    "id": recharge.provider_session_id,
                    "object": "checkout.session",
                    "amount_total": recharge.amount_minor,
                    "currency": recharge.currency.lower(),
                    "client_reference_id": str(recharge.pk),
                    "metadata": {"recharge_id": str(recharge.pk)},
                    "mode": "payment",
                    "payment_intent": f"pi_sim_{secrets.token_hex(10)}",
                    "payment_status": "paid",
                    "status": "complete",
                }
            },
        }
        return json.dumps(event)


PROVIDERS = {"stripe": StripeProvider, "simulated": SimulatedProvider}


def get_provider(name: str | None = None):
    name = name or settings.PAYMENT_PROVIDER
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise PaymentProviderError(f"Unknown PAYMENT_PROVIDER {name!r}") from None
