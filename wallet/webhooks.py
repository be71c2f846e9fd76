"""Payment webhooks: verify the signature, record the event once, dispatch by type.

The simulated checkout drives `webhook_receive` too, with an event it signs itself, so both
providers credit coins through exactly this code.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass

import stripe
from django.db import IntegrityError, transaction

from . import exceptions as errors
from .models import Recharge, RechargeStatus, WebhookEvent, WebhookEventStatus
from .payments import WebhookSecretMissing, verify_signature
from .services import (
    UNDOING_EVENTS,
    _locked,
    _set_lock_timeout,
    payment_intent_lock,
    recharge_close,
    recharge_decline,
    recharge_fulfil,
    recharge_undo,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookResult:
    status_code: int
    message: str


def webhook_receive(*, payload: bytes, signature: str | None) -> WebhookResult:
    try:
        text = verify_signature(payload, signature)
    except stripe.SignatureVerificationError:
        return WebhookResult(400, "bad signature")
    except UnicodeDecodeError:
        return WebhookResult(400, MALFORMED)
    except WebhookSecretMissing as exc:
        # Our configuration, not the sender's fault: 503 so Stripe keeps the event and
        # retries it once the secret is set (check --deploy reports this too).
        logger.error("webhook refused: %s", exc)
        return WebhookResult(503, "webhook secret not configured")
    try:
        event = event_decode(text)
    except MalformedEvent as exc:
        logger.warning("signed webhook body refused: %s", exc)
        return WebhookResult(400, f"{MALFORMED}: {exc}")
    try:
        return webhook_process(event)
    except errors.RetryLater:
        return WebhookResult(503, "busy, retry")


# ----------------------------------------------------------------------------- decoding

MALFORMED = "malformed payload"
# Stripe's events nest a handful of levels; anything much deeper is not one of them.
MAX_DEPTH = 32
MAX_ID_LENGTH = 255  # WebhookEvent.event_id, Recharge.provider_session_id / payment_intent_id
MAX_TYPE_LENGTH = 100  # WebhookEvent.type
MAX_AMOUNT = 2**63 - 1


class MalformedEvent(ValueError):
    """A verified body that is not an event this site can record."""


@dataclass(frozen=True)
class Field:
    """One value a handler reads from an event's `data.object`: absent/null or this type."""

    kind: type
    required: bool = False


SESSION_FIELDS = {
    "id": Field(str, required=True),
    "amount_total": Field(int),
    "currency": Field(str),
    "payment_intent": Field(str),
    "payment_status": Field(str),
}
CHARGE_FIELDS = {"payment_intent": Field(str), "amount_refunded": Field(int)}
DISPUTE_FIELDS = {"payment_intent": Field(str)}
INTENT_FIELDS = {"metadata": Field(dict), "last_payment_error": Field(dict)}


def _constant(name: str) -> float:
    raise MalformedEvent(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise MalformedEvent(f"{text[:20]} is out of range")
    return number


def _storable(value: object) -> None:
    """Refuse what the database cannot store as JSON text: NUL (PostgreSQL's jsonb refuses
    it), lone surrogates (not UTF-8), nesting past MAX_DEPTH."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedEvent(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, inner in item.items():
                _storable_text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            _storable_text(item)


def _storable_text(text: str) -> None:
    if "\x00" in text:
        raise MalformedEvent("a string holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEvent("a string is not valid Unicode") from None


def _identifier(event: dict, name: str, max_length: int) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"`{name}` must be a non-empty string")
    if len(value) > max_length:
        raise MalformedEvent(f"`{name}` is longer than {max_length} characters")
    return value


def _check_object(obj: dict, fields: dict[str, Field]) -> None:
    for name, field in fields.items():
        value = obj.get(name)
        if value is None:
            if field.required:
                raise MalformedEvent(f"`data.object.{name}` is missing")
            continue
        if field.kind is int:
            if type(value) is not int or not 0 <= value <= MAX_AMOUNT:
                raise MalformedEvent(f"`data.object.{name}` must be a whole amount")
        elif field.kind is dict:
            if not isinstance(value, dict):
                raise MalformedEvent(f"`data.object.{name}` must be an object")
        elif not isinstance(value, str) or len(value) > MAX_ID_LENGTH:
            raise MalformedEvent(f"`data.object.{name}` must be a string")


def event_decode(text: str) -> dict:
    """Parse a verified body into an event the handlers can read, or raise MalformedEvent.

    The envelope needs a string `id` and `type` and an object at `data.object`; a handled
    type's object must carry what its handler reads, with the right JSON types. Nothing is
    recorded for a body refused here (the sender is told 400).
    """
    try:
        event = json.loads(text, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise MalformedEvent(f"nested deeper than {MAX_DEPTH} levels") from None
    except MalformedEvent:
        raise
    except ValueError as exc:
        raise MalformedEvent("not JSON") from exc
    if not isinstance(event, dict):
        raise MalformedEvent("the body is not a JSON object")
    _storable(event)
    _identifier(event, "id", MAX_ID_LENGTH)
    event_type = _identifier(event, "type", MAX_TYPE_LENGTH)
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedEvent("`data.object` must be an object")
    _check_object(data["object"], OBJECT_FIELDS.get(event_type, {}))
    return event


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
    if intent:
        payment_intent_lock(intent)
    try:
        recharge = _locked(payment_intent_id=intent) if intent else None
    except Recharge.DoesNotExist:
        recharge = None
    if recharge is None:
        if intent:  # perhaps before its checkout completed: Stripe does not order events
            return WebhookEventStatus.HELD, "held until its payment lands"
        return WebhookEventStatus.IGNORED, "no recharge for this payment"
    review = recharge_undo(
        recharge=recharge, to=to, amount_refunded=charge.get("amount_refunded"), event_id=event_id
    )
    if review:
        return WebhookEventStatus.REVIEW, review
    return WebhookEventStatus.PROCESSED, f"recharge {recharge.pk} {to}"


def _declined(intent: dict, event_id: str) -> tuple[str, str]:
    """A card declined at a Stripe checkout: the PaymentIntent names its recharge (set at
    checkout_create); the checkout stays open, the history says what happened."""
    recharge_id = (intent.get("metadata") or {}).get("recharge_id")
    if not isinstance(recharge_id, str) or not re.fullmatch(r"[0-9]{1,18}", recharge_id):
        return WebhookEventStatus.IGNORED, "no recharge for this payment"
    error = intent.get("last_payment_error") or {}
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    recharge = recharge_decline(recharge_id=int(recharge_id), message=message, event_id=event_id)
    if recharge is None:
        return WebhookEventStatus.IGNORED, "no pending recharge for this payment"
    return WebhookEventStatus.PROCESSED, f"recharge {recharge.pk}: card declined"


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
    **{
        kind: lambda o, e, to=to: _charge_outcome(o, e, to=to)
        for kind, to in UNDOING_EVENTS.items()
    },
    "payment_intent.payment_failed": _declined,
}
# What each handler reads from `data.object` (event_decode refuses other shapes).
OBJECT_FIELDS: dict[str, dict[str, Field]] = {
    "checkout.session.completed": SESSION_FIELDS,
    "checkout.session.async_payment_succeeded": SESSION_FIELDS,
    "checkout.session.async_payment_failed": SESSION_FIELDS,
    "checkout.session.expired": SESSION_FIELDS,
    "charge.refunded": CHARGE_FIELDS,
    "charge.dispute.created": DISPUTE_FIELDS,
    "payment_intent.payment_failed": INTENT_FIELDS,
}


def webhook_process(event: dict) -> WebhookResult:
    """Apply a verified, decoded event (event_decode) once. Its id is recorded in the same
    database transaction as its effect, so a crash leaves neither and the provider's retry
    applies it again."""
    event_id, event_type = event["id"], event["type"]
    obj = event["data"]["object"]
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
        if status == WebhookEventStatus.HELD:
            record.payment_intent = obj["payment_intent"]
        record.save(update_fields=["status", "note", "payment_intent"])
    logger.info("webhook %s %s: %s", event_type, event_id, note)
    return WebhookResult(200, note)
