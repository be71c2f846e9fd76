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
