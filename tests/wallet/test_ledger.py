"""The ledger: balanced transactions, guarded debits, idempotency, derived balances, audit."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from tests.accounts.factories import UserFactory
from tests.helpers import postgres_only, run_threads
from tests.wallet.factories import fund, gift_legs, wallet_of
from wallet import exceptions as errors
from wallet.ledger import (
    account_balance,
    account_get,
    ledger_audit,
    ledger_rollup,
    legs,
    transaction_post,
)
from wallet.models import Account, Entry, Purpose, Transaction, TransactionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _gift(fan, creator, coins, key=None):
    return transaction_post(
        kind=TransactionKind.GIFT,
        idempotency_key=key or str(uuid.uuid4()),
        legs=gift_legs(fan, creator, coins, coins // 2),
        reference="gift:test",
    )


def test_recharge_shaped_post_writes_balanced_entries_and_cached_balance():
    fan = UserFactory()
    txn = fund(fan, 350)
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-350, 350]
    assert account_balance(wallet_of(fan)) == 350
    assert account_balance(account_get(purpose=Purpose.COINS_ISSUED)) == -350


def test_gift_shaped_post_moves_coins_and_diamonds():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 100)
    txn = _gift(fan, creator, 30)
    assert txn.entries.count() == 4
    assert account_balance(wallet_of(fan)) == 70
    assert account_balance(account_get(owner=creator, purpose=Purpose.EARNINGS)) == 15
    assert account_balance(account_get(purpose=Purpose.COINS_SPENT)) == 30
    # Receive-only accounts are not rewritten per transaction.
    earnings = Account.objects.get(owner=creator, purpose=Purpose.EARNINGS)
    assert (earnings.balance, earnings.settled_balance) == (0, 0)


def test_unbalanced_transaction_is_refused_and_writes_nothing():
    fan = UserFactory()
    with pytest.raises(errors.LedgerError, match="sum to 5"):
        transaction_post(
            kind=TransactionKind.ADJUSTMENT,
            idempotency_key="bad",
            legs=legs((account_get(purpose=Purpose.COINS_ISSUED), -5), (wallet_of(fan), 10)),
        )
    assert not Transaction.objects.exists() and not Entry.objects.exists()


@pytest.mark.parametrize("amounts", [[5], [0, 0], [5.0, -5.0]])
def test_malformed_legs_are_refused(amounts):
    fan = UserFactory()
    accounts = [wallet_of(fan), account_get(purpose=Purpose.COINS_ISSUED)]
    with pytest.raises(errors.LedgerError):
        transaction_post(
            kind=TransactionKind.ADJUSTMENT,
            idempotency_key="bad",
            legs=legs(*zip(accounts, amounts, strict=False)),
        )
    assert not Transaction.objects.exists()


def test_overdraw_is_refused_and_changes_nothing():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 10)
    with pytest.raises(errors.InsufficientFunds, match="you have 10 and this needs 11"):
        _gift(fan, creator, 11)
    assert account_balance(wallet_of(fan)) == 10
    assert Transaction.objects.filter(kind=TransactionKind.GIFT).count() == 0


def test_frozen_wallet_cannot_spend_but_can_receive():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 50)
    Account.objects.filter(owner=fan, purpose=Purpose.WALLET).update(frozen=True)
    with pytest.raises(errors.AccountFrozen):
        _gift(fan, creator, 5)
    fund(fan, 5)
    assert account_balance(wallet_of(fan)) == 55


def test_same_key_same_request_returns_first_transaction():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 100)
    first = _gift(fan, creator, 20, key="k-1")
    again = _gift(fan, creator, 20, key="k-1")
    assert again.pk == first.pk
    assert (first.replayed, again.replayed) == (False, True)
    assert account_balance(wallet_of(fan)) == 80
    assert Transaction.objects.filter(kind=TransactionKind.GIFT).count() == 1


def test_same_key_different_request_is_a_conflict():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 100)
    _gift(fan, creator, 20, key="k-1")
    with pytest.raises(errors.IdempotencyConflict):
        _gift(fan, creator, 25, key="k-1")
    assert account_balance(wallet_of(fan)) == 80


def test_database_refuses_a_negative_user_wallet():
    fan = UserFactory()
    wallet = wallet_of(fan)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(balance=-1)


def test_derived_debit_is_checked_under_lock():
    creator = UserFactory()
    fan = UserFactory()
    fund(fan, 100)
    _gift(fan, creator, 100)  # 50 diamonds
    earnings = account_get(owner=creator, purpose=Purpose.EARNINGS)
    hold = account_get(owner=creator, purpose=Purpose.PAYOUT_HOLD)
    with pytest.raises(errors.InsufficientFunds, match="50 available, 51 needed"):
        transaction_post(
            kind=TransactionKind.PAYOUT_REQUEST,
            idempotency_key="p1",
            legs=legs((earnings, -51), (hold, 51)),
        )
    transaction_post(
        kind=TransactionKind.PAYOUT_REQUEST,
        idempotency_key="p2",
        legs=legs((earnings, -50), (hold, 50)),
    )
    assert account_balance(earnings) == 0
    assert account_balance(hold) == 50


def test_rollup_changes_no_balance():
    fans = UserFactory.create_batch(3)
    creator = UserFactory()
    for fan in fans:
        fund(fan, 40)
        _gift(fan, creator, 7)
    accounts = list(Account.objects.all())
    before = {a.pk: account_balance(a) for a in accounts}
    assert ledger_rollup() > 0
    assert {a.pk: account_balance(a) for a in accounts} == before
    settled = Account.objects.get(owner=creator, purpose=Purpose.EARNINGS)
    assert settled.settled_balance == 9 and settled.settled_through == Entry.objects.latest("id").id
    # More activity after a roll-up is still counted.
    _gift(fans[0], creator, 10)
    assert account_balance(settled) == 14
    assert ledger_rollup() >= 1
    assert account_balance(settled) == 14


def test_audit_command_passes_on_clean_books(capsys):
    fan = UserFactory()
    fund(fan, 5)
    call_command("ledger_audit")
    assert "The books balance." in capsys.readouterr().out


def test_audit_finds_a_tampered_balance_and_exits_non_zero():
    fan = UserFactory()
    fund(fan, 5)
    Account.objects.filter(owner=fan).update(balance=500)
    report = ledger_audit()
    assert not report.ok
    assert "cached balance 500, entries sum to 5" in report.problems[0]
    with pytest.raises(CommandError, match="1 difference"):
        call_command("ledger_audit")
    Account.objects.filter(owner=fan).update(balance=5)  # leave clean books for the fixture


def test_audit_finds_an_unbalanced_transaction():
    fan = UserFactory()
    txn = fund(fan, 5)
    Entry.objects.filter(transaction=txn, amount=5).update(amount=6)
    Account.objects.filter(owner=fan).update(balance=6)
    problems = ledger_audit().problems
    assert any(f"transaction {txn.pk}: COIN entries sum to 1" in p for p in problems)
    Entry.objects.filter(transaction=txn, amount=6).update(amount=5)
    Account.objects.filter(owner=fan).update(balance=5)


# --------------------------------------------------------------------------- concurrency


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_racing_debits_never_overdraw():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 40)
    results = run_threads(50, lambda i: _gift(fan, creator, 2))
    ok = [r for r in results if isinstance(r, Transaction)]
    refused = [r for r in results if isinstance(r, errors.InsufficientFunds)]
    assert (len(ok), len(refused)) == (20, 30), results
    assert account_balance(wallet_of(fan)) == 0
    assert account_balance(account_get(owner=creator, purpose=Purpose.EARNINGS)) == 20


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_same_key_from_ten_threads_posts_once():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 100)
    results = run_threads(10, lambda i: _gift(fan, creator, 10, key="one-key"))
    assert all(isinstance(r, Transaction) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert account_balance(wallet_of(fan)) == 90


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rollup_racing_gifts_loses_nothing():
    fan, creator = UserFactory(), UserFactory()
    fund(fan, 400)

    def work(i: int):
        if i % 5 == 0:
            return ledger_rollup()
        return _gift(fan, creator, 4)

    results = run_threads(25, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    ledger_rollup()
    assert account_balance(account_get(owner=creator, purpose=Purpose.EARNINGS)) == 20 * 2
