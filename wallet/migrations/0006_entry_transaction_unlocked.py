"""Entry.transaction loses its database foreign key; ledger transactions become undeletable.

Every entry's deferred foreign-key check ran a lookup and took a KEY SHARE lock on the
transaction row the same call had just inserted: two to four of them per gift, about 8% of
the ledger's database time, guarding a row nothing may delete anyway. The ledger is
append-only, so that is what the database now enforces: a trigger refuses to delete a
transaction or change its id (PostgreSQL; SQLite, the single-writer embedded default,
relies on the ORM's PROTECT), every entry is written by the call that has just written its
transaction, and ledger_audit reports any entry whose transaction does not exist.
"""

import django.db.models.deletion
from django.db import migrations, models

from config.pgcall import postgresql_only

TRANSACTION_KEEP = """
CREATE FUNCTION wallet_transaction_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger transactions are never deleted or renumbered (transaction %)', OLD.id
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER wallet_transaction_keep BEFORE DELETE OR UPDATE OF id ON wallet_transaction
    FOR EACH ROW EXECUTE FUNCTION wallet_transaction_keep();
"""
TRANSACTION_KEEP_DROP = """
DROP TRIGGER IF EXISTS wallet_transaction_keep ON wallet_transaction;
DROP FUNCTION IF EXISTS wallet_transaction_keep();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0005_transaction_reference_unindexed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="entry",
            name="transaction",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.PROTECT,
                related_name="entries", to="wallet.transaction",
            ),
        ),  # fmt: skip
        migrations.RunPython(
            postgresql_only(TRANSACTION_KEEP), postgresql_only(TRANSACTION_KEEP_DROP)
        ),
    ]
