"""transfer_post: the PostgreSQL function path and the portable ORM path write the same ledger."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.accounts.factories import UserFactory
from tests.helpers import money_path
from wallet import exceptions as errors
from wallet.ledger import OwnerLeg, account_balance, account_get, ledger_audit, transfer_post
from wallet.models import Account, Entry, Purpose, Transaction, TransactionKind

pytestmark = pytest.mark.django_db

P = Purpose


def _gift(fan, creator, coins, key, fast):
    legs = [OwnerLeg(fan.pk, P.WALLET, -coins), OwnerLeg(None, P.COINS_SPENT, coins)]
    if coins // 2:
        legs += [
            OwnerLeg(None, P.DIAMONDS_ISSUED, -(coins // 2)),
            OwnerLeg(creator.pk, P.EARNINGS, coins // 2),
        ]
    with money_path(fast):
        return transfer_post(
            kind=TransactionKind.GIFT, idempotency_key=key, legs=legs, reference="gift:x"
        )


def _scenario(prefix: str, fast: bool) -> tuple[list, dict]:
    """The same story on either path; returns what it did, normalised so runs compare."""
    fan, other, creator = UserFactory(), UserFactory(), UserFactory()
    role = {fan.pk: "fan", other.pk: "other", creator.pk: "creator", None: "system"}
    outcomes = []

    def run(label, fn):
        try:
            with money_path(fast):
                txn = fn()
            outcomes.append((label, "ok", txn.replayed, txn.balance))
        except errors.WalletError as exc:
            outcomes.append((label, type(exc).__name__, str(exc)))

    fund = [OwnerLeg(None, P.COINS_ISSUED, -100), OwnerLeg(fan.pk, P.WALLET, 100)]
    run(
        "fund",
        lambda: transfer_post(
            kind=TransactionKind.RECHARGE,
            idempotency_key=f"{prefix}fund",
            legs=fund,
            reference="recharge:1",
        ),
    )
    run("gift", lambda: _gift(fan, creator, 30, f"{prefix}g1", fast))
    run("replay", lambda: _gift(fan, creator, 30, f"{prefix}g1", fast))
    run("conflict", lambda: _gift(fan, creator, 31, f"{prefix}g1", fast))
    run("overdraw", lambda: _gift(fan, creator, 71, f"{prefix}g2", fast))
    run("rose", lambda: _gift(fan, creator, 1, f"{prefix}g3", fast))
    run("empty-wallet", lambda: _gift(other, creator, 5, f"{prefix}g4", fast))
    Account.objects.filter(owner=fan, purpose=P.WALLET).update(frozen=True)
    run("frozen", lambda: _gift(fan, creator, 5, f"{prefix}g5", fast))

    ledger = []
    for txn in Transaction.objects.filter(idempotency_key__startswith=prefix).order_by("pk"):
        entries = sorted(
            (role[e.account.owner_id], e.account.purpose, e.amount)
            for e in Entry.objects.filter(transaction=txn).select_related("account")
        )
        ledger.append(
            (
                txn.idempotency_key.removeprefix(prefix),
                txn.kind,
                txn.reference,
                txn.fingerprint != "",
                entries,
            )
        )
    balances = {
        (role[o], p): account_balance(account_get(owner=u, purpose=p))
        for o, u in ((fan.pk, fan), (creator.pk, creator))
        for p in ((P.WALLET,) if o == fan.pk else (P.EARNINGS,))
    }
    return outcomes, {"ledger": ledger, "balances": balances}


def test_portable_path_behaves():
    outcomes, state = _scenario("p-", fast=False)
    assert [o[:2] for o in outcomes] == [
        ("fund", "ok"),
        ("gift", "ok"),
        ("replay", "ok"),
        ("conflict", "IdempotencyConflict"),
        ("overdraw", "InsufficientFunds"),
        ("rose", "ok"),
        ("empty-wallet", "InsufficientFunds"),
        ("frozen", "AccountFrozen"),
    ]
    assert state["balances"] == {("fan", P.WALLET): 69, ("creator", P.EARNINGS): 15}
    # The payer's balance comes back with each post (replays too).
    assert [o[3] for o in outcomes if o[1] == "ok"] == [100, 70, 70, 69]
    assert ledger_audit().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path is PostgreSQL's")
def test_fast_and_portable_paths_write_identical_ledgers():
    fast = _scenario("f-", fast=True)
    portable = _scenario("p-", fast=False)
    assert fast == portable
    assert ledger_audit().ok
