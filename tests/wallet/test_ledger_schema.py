"""The ledger's schema guarantees (migration 0004) and the one-call post path around them."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError

from config.sqlite.base import FLUSH_MARK
from tests.accounts.factories import UserFactory
from tests.wallet.factories import fund, wallet_of
from wallet import exceptions as errors
from wallet.ledger import OwnerLeg, account_get, ledger_audit, system_accounts_ensure, transfer_post
from wallet.models import SYSTEM_ACCOUNT_IDS, Account, Entry, Purpose, Transaction, TransactionKind

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL behaviour (set DATABASE_URL)"
)

P = Purpose


def _recharge(fan, coins, key):
    return transfer_post(
        kind=TransactionKind.RECHARGE,
        idempotency_key=key,
        legs=[OwnerLeg(None, P.COINS_ISSUED, -coins), OwnerLeg(fan.pk, P.WALLET, coins)],
        reference="recharge:test",
    )


def test_system_accounts_sit_at_their_fixed_ids():
    for purpose, pk in SYSTEM_ACCOUNT_IDS.items():
        account = account_get(purpose=purpose)
        assert account.pk == pk < 0
        assert account.owner_id is None and account.purpose == purpose


def test_system_accounts_are_made_again_after_they_vanish():
    Account.objects.filter(pk__in=SYSTEM_ACCOUNT_IDS.values()).update(frozen=False)
    with connection.cursor() as cursor:  # what a test-database flush does
        cursor.execute("DELETE FROM wallet_entry")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE wallet_account DISABLE TRIGGER wallet_account_keep")
        else:
            cursor.execute(f"INSERT INTO {FLUSH_MARK} (flushing) VALUES (1)")
        cursor.execute("DELETE FROM wallet_account")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE wallet_account ENABLE TRIGGER wallet_account_keep")
        else:
            cursor.execute(f"DELETE FROM {FLUSH_MARK}")
    system_accounts_ensure()
    assert set(Account.objects.values_list("pk", flat=True)) == set(SYSTEM_ACCOUNT_IDS.values())


def test_a_leg_must_match_its_kind_of_account():
    fan = UserFactory()
    with pytest.raises(errors.LedgerError, match="not a user account"):
        transfer_post(
            kind=TransactionKind.ADJUSTMENT,
            idempotency_key="k",
            legs=[OwnerLeg(fan.pk, P.COINS_ISSUED, -1), OwnerLeg(fan.pk, P.WALLET, 1)],
        )
    with pytest.raises(errors.LedgerError, match="not a system account"):
        transfer_post(
            kind=TransactionKind.ADJUSTMENT,
            idempotency_key="k",
            legs=[OwnerLeg(None, P.COINS_ISSUED, -1), OwnerLeg(None, P.WALLET, 1)],
        )
    assert not Entry.objects.exists()


def test_database_refuses_an_owner_on_a_system_purpose_and_none_on_a_user_one():
    fan = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(owner=fan, unit="COIN", purpose=P.COINS_SPENT)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(owner=None, unit="COIN", purpose=P.WALLET)


def test_audit_reports_an_entry_whose_account_does_not_exist():
    fan = UserFactory()
    txn = fund(fan, 5)
    entry = Entry.objects.get(transaction=txn, amount=5)
    Entry.objects.filter(pk=entry.pk).update(account_id=987_654)
    problems = ledger_audit().problems
    assert f"entry {entry.pk}: account 987654 does not exist" in problems
    Entry.objects.filter(pk=entry.pk).update(account_id=wallet_of(fan).pk)
    assert ledger_audit().ok


def test_audit_reports_an_entry_whose_transaction_does_not_exist():
    fan = UserFactory()
    txn = fund(fan, 5)
    entry = Entry.objects.get(transaction=txn, amount=5)
    Entry.objects.filter(pk=entry.pk).update(transaction_id=987_654)
    problems = ledger_audit().problems
    assert f"entry {entry.pk}: transaction 987654 does not exist" in problems
    Entry.objects.filter(pk=entry.pk).update(transaction_id=txn.pk)
    assert ledger_audit().ok


def test_transactions_cannot_be_deleted_or_renumbered():
    """On both databases (SQLite's triggers: wallet migration 0012)."""
    txn = fund(UserFactory(), 5)
    for statements in (
        ["DELETE FROM wallet_entry WHERE transaction_id = %s", "DELETE FROM wallet_transaction WHERE id = %s"],
        ["UPDATE wallet_transaction SET id = id + 10000 WHERE id = %s"],
    ):  # fmt: skip
        with (
            pytest.raises(DatabaseError, match="transactions are never deleted or renumbered"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            for statement in statements:
                cursor.execute(statement, [txn.pk])
    with pytest.raises(ProtectedError), transaction.atomic():  # the ORM refuses first
        Transaction.objects.filter(pk=txn.pk).delete()
    assert Entry.objects.filter(transaction=txn).count() == 2
    assert ledger_audit().ok


def test_accounts_cannot_be_deleted_or_renumbered():
    """On both databases (SQLite's triggers: wallet migration 0012)."""
    fan = UserFactory()
    fund(fan, 5)
    wallet = wallet_of(fan)
    empty = account_get(owner=UserFactory(), purpose=P.EARNINGS)  # no entries: ORM lets it go
    for statement, params in (
        ("DELETE FROM wallet_account WHERE id = %s", [wallet.pk]),
        ("UPDATE wallet_account SET id = id + 10000 WHERE id = %s", [wallet.pk]),
        ("DELETE FROM wallet_account WHERE id = %s", [SYSTEM_ACCOUNT_IDS[P.COINS_ISSUED]]),
    ):
        with (
            pytest.raises(DatabaseError, match="never deleted or renumbered"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, params)
    with pytest.raises(DatabaseError, match="never deleted or renumbered"), transaction.atomic():
        Account.objects.filter(pk=empty.pk).delete()
    # Everything else about an account may change (freezing, balances).
    Account.objects.filter(pk=wallet.pk).update(frozen=True)
    assert Account.objects.get(pk=wallet.pk).frozen


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_flush_still_empties_the_ledger():
    """manage.py flush (and the tests' own teardown) empties everything, triggers or not: on
    PostgreSQL by TRUNCATE, on SQLite through config/sqlite's mark; the mark goes after."""
    from django.core.management import call_command

    fund(UserFactory(), 5)
    call_command("flush", interactive=False, verbosity=0)
    assert not Transaction.objects.exists() and not Entry.objects.exists()
    assert not Account.objects.filter(owner__isnull=False).exists()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {FLUSH_MARK}")
            assert cursor.fetchone() == (0,)
        with pytest.raises(DatabaseError, match="never deleted"), transaction.atomic():
            Account.objects.filter(pk=SYSTEM_ACCOUNT_IDS[P.COINS_ISSUED]).delete()


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_first_statement_of_an_atomic_block_joins_it():
    """A post sent before anything else in an atomic block must open the transaction, so
    the block's rollback takes it back."""
    fan = UserFactory()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        posted = _recharge(fan, 40, "inside")
        assert posted.balance == 40
        raise Abort
    assert not Account.objects.filter(owner=fan, balance__gt=0).exists()
    assert _recharge(fan, 40, "inside").replayed is False  # the key was rolled back too


@postgres_only
def test_refusal_inside_a_block_leaves_it_usable():
    fan = UserFactory()
    with transaction.atomic():
        UserFactory()  # something already sent in this transaction
        _recharge(fan, 10, "a")
        with pytest.raises(errors.InsufficientFunds, match="you have 10 and this needs 11"):
            transfer_post(
                kind=TransactionKind.GIFT,
                idempotency_key="b",
                legs=[OwnerLeg(fan.pk, P.WALLET, -11), OwnerLeg(None, P.COINS_SPENT, 11)],
            )
        assert _recharge(fan, 5, "c").balance == 15
    assert wallet_of(fan).balance == 15
    assert ledger_audit().ok


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_post_works_again_on_a_new_connection():
    """The statement is prepared per database session: a reconnect prepares it again."""
    fan = UserFactory()
    assert _recharge(fan, 3, "one").balance == 3
    connection.close()
    assert _recharge(fan, 4, "two").balance == 7


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_moves_existing_system_accounts_with_their_entries():
    executor = MigrationExecutor(connection)
    executor.migrate([("wallet", "0003_wallet_post_function")])
    try:
        old_apps = executor.loader.project_state([("wallet", "0003_wallet_post_function")]).apps
        OldAccount = old_apps.get_model("wallet", "Account")
        OldEntry = old_apps.get_model("wallet", "Entry")
        OldTransaction = old_apps.get_model("wallet", "Transaction")
        OldAccount.objects.filter(pk__in=SYSTEM_ACCOUNT_IDS.values()).delete()
        issued = OldAccount.objects.create(unit="COIN", purpose="coins_issued", settled_balance=-9)
        fan = OldAccount.objects.create(
            owner_id=UserFactory().pk, unit="COIN", purpose="wallet", balance=9
        )
        txn = OldTransaction.objects.create(kind="recharge", idempotency_key="old", fingerprint="x")
        OldEntry.objects.create(transaction=txn, account=issued, amount=-9)
        OldEntry.objects.create(transaction=txn, account=fan, amount=9)
        assert issued.pk > 0
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    moved = Account.objects.get(pk=SYSTEM_ACCOUNT_IDS[P.COINS_ISSUED])
    assert moved.settled_balance == -9
    assert not Account.objects.filter(pk=issued.pk).exists()
    assert sorted(
        Entry.objects.filter(transaction_id=txn.pk).values_list("account_id", "amount")
    ) == [
        (moved.pk, -9),
        (fan.pk, 9),
    ]
