from __future__ import annotations

import uuid

from wallet.ledger import account_get, legs, transaction_post
from wallet.models import Purpose, TransactionKind


def wallet_of(user):
    return account_get(owner=user, purpose=Purpose.WALLET)


def fund(user, coins: int, *, key: str | None = None):
    """Give `user` coins the way a paid recharge does: issued by the system, into the wallet."""
    return transaction_post(
        kind=TransactionKind.RECHARGE,
        idempotency_key=key or f"test-fund:{uuid.uuid4()}",
        legs=legs(
            (account_get(purpose=Purpose.COINS_ISSUED), -coins),
            (wallet_of(user), coins),
        ),
        reference="test",
    )


def gift_legs(fan, creator, coins: int, diamonds: int):
    """The legs of a gift-shaped transfer (no diamond legs when the share rounds to 0)."""
    pairs = [(wallet_of(fan), -coins), (account_get(purpose=Purpose.COINS_SPENT), coins)]
    if diamonds:
        pairs += [
            (account_get(purpose=Purpose.DIAMONDS_ISSUED), -diamonds),
            (account_get(owner=creator, purpose=Purpose.EARNINGS), diamonds),
        ]
    return legs(*pairs)


def signed(
    event: dict, *, secret: str | None = None, timestamp: int | None = None
) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header."""
    import json

    from wallet.payments import sign_payload

    payload = json.dumps(event)
    return payload.encode(), sign_payload(payload, secret=secret, timestamp=timestamp)


def session_event(
    recharge, *, event_id: str, type: str = "checkout.session.completed", **overrides
) -> dict:
    obj = {
        "id": recharge.provider_session_id,
        "object": "checkout.session",
        "amount_total": recharge.amount_minor,
        "currency": recharge.currency.lower(),
        "payment_status": "paid",
        "payment_intent": f"pi_{recharge.pk}",
        "client_reference_id": str(recharge.pk),
    }
    obj.update(overrides)
    return {"id": event_id, "object": "event", "type": type, "data": {"object": obj}}


def fan_moves(user, country: str):
    """Change the fan's profile country, as the profile page does: they now pay in its currency."""
    from accounts.services import profile_update

    return profile_update(profile=user.profile, country=country)
