"""Payment webhooks: verify the signature, record the event once, dispatch by type.

The simulated checkout drives `webhook_receive` too, with an event it signs itself, so both
providers credit coins through exactly this code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from django.db import IntegrityError, transaction

from . import exceptions as errors
from .models import Recharge, RechargeStatus, WebhookEvent, WebhookEventStatus
from .payments import verify_event
from .services import _locked, _set_lock_timeout, recharge_clawback, recharge_close, recharge_fulfil

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookResult:
    status_code: int
    message: str


def webhook_receive(*, payload: bytes, signature: str | None) -> WebhookResult:
    try:
        event = verify_event(payload, signature)
    except stripe.SignatureVerificationError:
        return WebhookResult(400, "bad signature")
    except ValueError:
        return WebhookResult(400, "malformed payload")
    try:
        return webhook_process(event.to_dict())
    except errors.RetryLater:
        return WebhookResult(503, "busy, retry")


def _session_outcome(session: dict, event_id: str, *, paid_required: bool) -> tuple[str, str]:
    if paid_required and session.get("payment_status") != "paid":
        return WebhookEventStatus.IGNORED, "checkout complete, payment not yet received"
    result = recharge_fulfil(
        session_id=session["id"],
        amount_total=session.get("amount_total"),
        currency=session.get("currency"),
        payment_intent=session.get("payment_intent") or "",
        event_id=event_id,
    )
    if result.credited:
        return WebhookEventStatus.PROCESSED, f"credited {result.recharge.coins} coins"
    if result.recharge.needs_review:
        return WebhookEventStatus.REVIEW, result.note
    return WebhookEventStatus.PROCESSED, result.note


def _charge_outcome(charge: dict, event_id: str, *, to: str) -> tuple[str, str]:
    intent = charge.get("payment_intent") or ""
    try:
        recharge = _locked(payment_intent_id=intent) if intent else None
    except Recharge.DoesNotExist:
        recharge = None
    if recharge is None:
        return WebhookEventStatus.IGNORED, "no recharge for this payment"
    if to == RechargeStatus.REFUNDED and charge.get("amount_refunded", 0) < recharge.amount_minor:
        recharge.needs_review = True
        recharge.review_note = (
            f"partial refund of {charge.get('amount_refunded')} {recharge.currency}"
        )
        recharge.save(update_fields=["needs_review", "review_note", "updated_at"])
        return WebhookEventStatus.REVIEW, recharge.review_note
    recharge_clawback(recharge=recharge, to=to, event_id=event_id)
    return WebhookEventStatus.PROCESSED, f"recharge {recharge.pk} {to}"


def _dispute_outcome(dispute: dict, event_id: str) -> tuple[str, str]:
    return _charge_outcome(
        {"payment_intent": dispute.get("payment_intent")}, event_id, to=RechargeStatus.DISPUTED
    )


def _closed(session: dict, event_id: str, to: str) -> tuple[str, str]:
    recharge = recharge_close(session_id=session["id"], to=to, event_id=event_id)
    return WebhookEventStatus.PROCESSED, f"closed as {to}" if recharge else "already closed"


HANDLERS = {
    "checkout.session.completed": lambda o, e: _session_outcome(o, e, paid_required=True),
    "checkout.session.async_payment_succeeded": lambda o, e: _session_outcome(
        o, e, paid_required=False
    ),
    "checkout.session.async_payment_failed": lambda o, e: _closed(o, e, RechargeStatus.FAILED),
    "checkout.session.expired": lambda o, e: _closed(o, e, RechargeStatus.EXPIRED),
    "charge.refunded": lambda o, e: _charge_outcome(o, e, to=RechargeStatus.REFUNDED),
    "charge.dispute.created": _dispute_outcome,
}


def webhook_process(event: dict) -> WebhookResult:
    """Apply a verified event once. Its id is recorded in the same database transaction as
    its effect, so a crash leaves neither and the provider's retry applies it again."""
    event_id, event_type = event["id"], event["type"]
    obj = event.get("data", {}).get("object", {})
    with transaction.atomic(durable=True):
        _set_lock_timeout()
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    event_id=event_id,
                    type=event_type,
                    status=WebhookEventStatus.IGNORED,
                    payload=event,
                )
        except IntegrityError:
            return WebhookResult(200, "duplicate")
        handler = HANDLERS.get(event_type)
        if handler is None:
            return WebhookResult(200, "ignored")
        try:
            status, note = handler(obj, event_id)
        except Recharge.DoesNotExist:
            status, note = WebhookEventStatus.IGNORED, "no such checkout session here"
        record.status, record.note = status, note[:300]
        record.save(update_fields=["status", "note"])
    logger.info("webhook %s %s: %s", event_type, event_id, note)
    return WebhookResult(200, note)
