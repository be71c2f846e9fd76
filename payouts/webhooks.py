"""The Stripe Connect webhook (PAYOUT_PROVIDER=stripe): verify, decode, apply once.

Signed with STRIPE_CONNECT_WEBHOOK_SECRET (its own endpoint in Stripe's dashboard; several
secrets may be given, comma-separated), decoded by the wallet's `event_decode`, and each
event recorded once in wallet.WebhookEvent (its id is unique): a replay answers 200 and
changes nothing. Unknown types answer 200 and are recorded as ignored.

What the events mean for a payout (all moves through payout_transition, by=None):
- `account.updated`: the trigger to ask Stripe for the account and record whether it can
  receive payouts (then it becomes the creator's payout method);
- the Transfer made on approval puts the cash in the creator's Stripe balance, not yet in
  their bank, so the payout stays `processing`; `payout.paid` on the connected account
  (the event's `account`) marks its processing payouts `paid`;
- `payout.failed` on the connected account: the cash is back in the creator's Stripe
  balance, so the Transfer is reversed and the payout `failed` (diamonds given back, the
  failure message as its note). Were the diamonds given back without the reversal, the
  creator would be paid twice; if Stripe refuses the reversal the payout stays
  processing and the event is recorded for staff review;
- `transfer.reversed` (a platform event): the payout `failed`, diamonds given back.

The payout's own state machine makes each effect idempotent (a second `failed` is an
illegal move, refused), so the event is recorded after its effect: a crash in between
lets Stripe's retry apply it again harmlessly rather than lose it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from wallet.models import WebhookEvent, WebhookEventStatus
from wallet.webhooks import MALFORMED, MAX_ID_LENGTH, MalformedEvent, event_decode

from .exceptions import PayoutError
from .models import Payout, PayoutStatus, StripeAccount
from .providers import PayoutProviderError, StripeConnectProvider

logger = logging.getLogger(__name__)

SECRET_MISSING = (
    "STRIPE_CONNECT_WEBHOOK_SECRET is not set, so Stripe Connect's events cannot be "
    "verified: set it to the endpoint's signing secret (whsec_…)."
)


@dataclass(frozen=True)
class WebhookResult:
    status_code: int
    message: str


def connect_secrets() -> list[str]:
    return [s.strip() for s in settings.STRIPE_CONNECT_WEBHOOK_SECRET.split(",") if s.strip()]


def connect_webhook_receive(*, payload: bytes, signature: str | None) -> WebhookResult:
    secrets = connect_secrets()
    if not secrets:
        logger.error("connect webhook refused: %s", SECRET_MISSING)
        return WebhookResult(503, "webhook secret not configured")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return WebhookResult(400, MALFORMED)
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=300)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        return WebhookResult(400, "bad signature")
    try:
        event = event_decode(text)
        _check(event)
    except MalformedEvent as exc:
        logger.warning("signed connect webhook body refused: %s", exc)
        return WebhookResult(400, f"{MALFORMED}: {exc}")
    try:
        return connect_event_process(event)
    except PayoutProviderError as exc:  # Stripe unreachable: let it retry
        logger.warning("connect webhook %s deferred: %s", event["id"], exc)
        return WebhookResult(503, "provider unavailable, retry")


# ----------------------------------------------------------------------------- decoding


def _string(mapping: dict, name: str, where: str, *, required: bool = True) -> None:
    value = mapping.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise MalformedEvent(f"`{where}{name}` must be a non-empty string")


# Per handled type: (fields of data.object that must be strings, whether `account` is).
SHAPES = {
    "account.updated": (("id",), False),
    "transfer.reversed": (("id",), False),
    "payout.paid": (("id",), True),
    "payout.failed": (("id",), True),
}


def _check(event: dict) -> None:
    shape = SHAPES.get(event["type"])
    if shape is None:
        return
    names, needs_account = shape
    obj = event["data"]["object"]
    for name in names:
        _string(obj, name, "data.object.")
    if needs_account:
        _string(event, "account", "")
    message = obj.get("failure_message")
    if message is not None and not isinstance(message, str):
        raise MalformedEvent("`data.object.failure_message` must be a string")


# ----------------------------------------------------------------------------- handlers


def _move(payout: Payout, to: str, *, note: str, reference: str = "") -> bool:
    from .services import payout_transition

    try:
        payout_transition(payout_id=payout.pk, to=to, by=None, note=note, reference=reference)
    except PayoutError as exc:  # already moved (a replay under another id, or a race)
        logger.info("payout %s not moved to %s: %s", payout.pk, to, exc)
        return False
    return True


def _account_updated(event: dict) -> tuple[str, str]:
    account_id = event["data"]["object"]["id"]
    account = StripeConnectProvider().account_sync(account_id=account_id)
    if account is None:
        return WebhookEventStatus.IGNORED, "not one of our accounts"
    return (
        WebhookEventStatus.PROCESSED,
        f"{account_id}: payouts_enabled={account.payouts_enabled} "
        f"details_submitted={account.details_submitted}",
    )


def _transfer_reversed(event: dict) -> tuple[str, str]:
    transfer_id = event["data"]["object"]["id"]
    payout = Payout.objects.filter(provider="stripe", provider_reference=transfer_id).first()
    if payout is None:
        return WebhookEventStatus.IGNORED, "no payout for this transfer"
    if payout.status == PayoutStatus.PAID:
        return WebhookEventStatus.REVIEW, f"payout {payout.pk} was paid, then its transfer reversed"
    if payout.status != PayoutStatus.PROCESSING:
        return WebhookEventStatus.IGNORED, f"payout {payout.pk} already {payout.status}"
    if _move(payout, PayoutStatus.FAILED, note="Stripe reversed the transfer."):
        return WebhookEventStatus.PROCESSED, f"payout {payout.pk} failed"
    return WebhookEventStatus.IGNORED, f"payout {payout.pk} already moved"


def _processing_of(event: dict) -> list[Payout]:
    account = StripeAccount.objects.filter(account_id=event["account"]).first()
    if account is None:
        return []
    return list(
        Payout.objects.filter(
            creator_id=account.creator_id, provider="stripe", status=PayoutStatus.PROCESSING
        ).order_by("pk")
    )


def _payout_paid(event: dict) -> tuple[str, str]:
    stripe_payout = event["data"]["object"]["id"]
    moved = [
        p.pk
        for p in _processing_of(event)
        if _move(
            p,
            PayoutStatus.PAID,
            note=f"Stripe payout {stripe_payout} paid",
            reference=p.provider_reference,
        )
    ]
    if not moved:
        return WebhookEventStatus.IGNORED, "no processing payout for this account"
    return WebhookEventStatus.PROCESSED, f"paid: {', '.join(map(str, moved))}"


def _payout_failed(event: dict) -> tuple[str, str]:
    obj = event["data"]["object"]
    reason = (obj.get("failure_message") or "").strip() or "The bank payout failed."
    provider = StripeConnectProvider()
    moved, review = [], []
    for payout in _processing_of(event):
        try:
            provider.transfer_reverse(payout=payout)
        except PayoutProviderError as exc:
            logger.error("payout %s: %s", payout.pk, exc)
            review.append(f"payout {payout.pk}: {exc}")
            continue
        if _move(payout, PayoutStatus.FAILED, note=reason):
            moved.append(payout.pk)
    if review:
        return WebhookEventStatus.REVIEW, "; ".join(review)
    if not moved:
        return WebhookEventStatus.IGNORED, "no processing payout for this account"
    return WebhookEventStatus.PROCESSED, f"failed: {', '.join(map(str, moved))}"


HANDLERS = {
    "account.updated": _account_updated,
    "transfer.reversed": _transfer_reversed,
    "payout.paid": _payout_paid,
    "payout.failed": _payout_failed,
}


def connect_event_process(event: dict) -> WebhookResult:
    """Apply a verified, decoded event once, then record it (see the module's docstring)."""
    event_id, event_type = event["id"], event["type"]
    if WebhookEvent.objects.filter(event_id=event_id).exists():
        return WebhookResult(200, "duplicate")
    handler = HANDLERS.get(event_type)
    if handler is None:
        status, note = WebhookEventStatus.IGNORED, "ignored"
    else:
        status, note = handler(event)
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                event_id=event_id, type=event_type, status=status, note=note[:300], payload=event
            )
    except IntegrityError:
        return WebhookResult(200, "duplicate")
    logger.info("connect webhook %s %s: %s", event_type, event_id, note)
    return WebhookResult(200, note)
