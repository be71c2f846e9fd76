"""The embedded default refuses to delete or renumber ledger rows, as PostgreSQL does.

PostgreSQL has had triggers refusing to delete or renumber an account (0004) or a
transaction (0006); SQLite relied on the ORM's PROTECT, which a queryset's delete() or a
hand-written statement goes around. These are SQLite's triggers for the same rules. Django's
flush on SQLite deletes rows (it has no TRUNCATE): config/sqlite marks a flush in
giftcast_flushing, which the delete triggers let through.

SQLite drops a table's triggers when a migration rebuilds the table (an AlterField there
copies it into a new one): a migration that does that to wallet_account or
wallet_transaction must create these again. tests/wallet/test_ledger_schema.py
(test_accounts_cannot_be_deleted_or_renumbered, test_transactions_cannot_…) fails on SQLite
if they are missing. The triggers name no other table, so rebuilding another table is
unaffected (a trigger naming, say, livestreams_sentgift would make SQLite refuse to rename
that table's rebuilt copy).
"""

from django.db import migrations

from config.pgcall import sqlite_only
from config.sqlite.base import FLUSH_MARK


def _keep(table: str, what: str) -> list[str]:
    message = f"ledger {what} are never deleted or renumbered"
    return [
        f"CREATE TRIGGER {table}_keep BEFORE DELETE ON {table} "
        f"WHEN NOT EXISTS (SELECT 1 FROM {FLUSH_MARK}) "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        f"CREATE TRIGGER {table}_keep_id BEFORE UPDATE OF id ON {table} "
        f"WHEN NEW.id IS NOT OLD.id BEGIN SELECT RAISE(ABORT, '{message}'); END",
    ]


KEEP = [
    f"CREATE TABLE IF NOT EXISTS {FLUSH_MARK} (flushing integer NOT NULL)",
    *_keep("wallet_account", "accounts"),
    *_keep("wallet_transaction", "transactions"),
]
KEEP_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_{suffix}"
    for table in ("wallet_account", "wallet_transaction")
    for suffix in ("keep", "keep_id")
]


class Migration(migrations.Migration):
    dependencies = [("wallet", "0011_no_transfer_kind")]

    operations = [migrations.RunPython(sqlite_only(*KEEP), sqlite_only(*KEEP_DROP))]
