"""System accounts at fixed ids; shorter account CHECKs; wallet_post names accounts directly.

The gift path named every account by (owner, unit, purpose) and looked each one up inside
wallet_post. System accounts now sit at fixed negative ids (never reached by the id
sequence), so the caller passes them; a fan's wallet is found by the guarded UPDATE that
debits it; only a creator's receive-only account is still looked up (and made on first use).
Existing system accounts are moved to their fixed ids with their entries.

The two account CHECKs are replaced by shorter equivalents: PostgreSQL rebuilds every CHECK
expression on each UPDATE statement, and these ran on every gift.

Entry.account loses its database foreign key (see the model): every gift's check locked the
same two system account rows. Accounts become undeletable and their ids fixed instead, by a
trigger (PostgreSQL; SQLite, the single-writer embedded default, relies on the ORM's
PROTECT and on ledger_audit).
"""

from importlib import import_module

import django.db.models.deletion
import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models

from config.pgcall import postgresql_only


# Frozen copy of wallet.models.SYSTEM_ACCOUNT_IDS and the units, as of this migration.
SYSTEM_ACCOUNTS = {
    "coins_issued": (-1, "COIN"),
    "coins_spent": (-2, "COIN"),
    "coin_adjustments": (-3, "COIN"),
    "diamonds_issued": (-4, "DIAMOND"),
    "diamonds_redeemed": (-5, "DIAMOND"),
    "diamond_adjustments": (-6, "DIAMOND"),
}


def system_accounts_to_fixed_ids(apps, schema_editor):
    Account = apps.get_model("wallet", "Account")
    Entry = apps.get_model("wallet", "Entry")
    for purpose, (fixed, unit) in SYSTEM_ACCOUNTS.items():
        old = Account.objects.filter(owner__isnull=True, purpose=purpose).first()
        if old is None:
            Account.objects.create(pk=fixed, unit=unit, purpose=purpose)
        elif old.pk != fixed:
            # Entries are immutable except here: the account keeps every entry, under its
            # new id. The foreign key is deferred, so it is checked once both have moved.
            Account.objects.filter(pk=old.pk).update(id=fixed)
            Entry.objects.filter(account_id=old.pk).update(account_id=fixed)


WALLET_POST = r"""
CREATE FUNCTION wallet_post(
    p_kind text, p_key text, p_fingerprint text, p_reference text, p_memo text,
    p_accounts bigint[], p_owners bigint[], p_purposes text[], p_units text[], p_amounts bigint[],
    p_cached boolean[], p_check_frozen boolean,
    OUT txn_id bigint, OUT replayed boolean, OUT payer_balance bigint
)
LANGUAGE plpgsql AS $$
-- One ledger transaction in one call (see wallet.ledger.transfer_post). Legs name their
-- account by id (system accounts) or by owner (p_accounts[i] NULL). Cached legs (fans'
-- wallets) change their balance with a guarded UPDATE; the others only get entries.
DECLARE
    v_accounts bigint[] := p_accounts;
    v_payer int := array_position(p_cached, true);
    v_order int[];
    v_fp text;
    v_id bigint;
    v_new bigint;
    v_balance bigint;
    v_frozen boolean;
    i int;
BEGIN
    INSERT INTO wallet_transaction (kind, idempotency_key, fingerprint, reference, memo, created_at)
    VALUES (p_kind, p_key, p_fingerprint, p_reference, p_memo, now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO txn_id;
    IF txn_id IS NULL THEN
        SELECT t.id, t.fingerprint INTO txn_id, v_fp FROM wallet_transaction t
         WHERE t.idempotency_key = p_key;
        IF v_fp IS DISTINCT FROM p_fingerprint THEN
            RAISE EXCEPTION 'idempotency key reused for a different request' USING ERRCODE = 'GC003';
        END IF;
        replayed := true;
        SELECT a.balance INTO payer_balance FROM wallet_account a
         WHERE a.owner_id = p_owners[v_payer] AND a.unit = p_units[v_payer]
           AND a.purpose = p_purposes[v_payer];
        RETURN;
    END IF;
    replayed := false;

    -- Cached legs in owner order (no deadlocks between two multi-wallet transactions). A
    -- debit only if the balance covers it and the wallet is not frozen; a wallet is made on
    -- its first credit.
    v_order := array_positions(p_cached, true);
    IF cardinality(v_order) > 1 THEN
        SELECT array_agg(k ORDER BY p_owners[k], p_purposes[k]) INTO v_order FROM unnest(v_order) AS k;
    END IF;
    FOREACH i IN ARRAY v_order LOOP
        LOOP
            UPDATE wallet_account a SET balance = a.balance + p_amounts[i]
             WHERE a.owner_id = p_owners[i] AND a.unit = p_units[i] AND a.purpose = p_purposes[i]
               AND (p_amounts[i] >= 0
                    OR (a.balance + p_amounts[i] >= 0 AND NOT (a.frozen AND p_check_frozen)))
            RETURNING a.id, a.balance INTO v_id, v_new;
            EXIT WHEN FOUND;
            SELECT a.id, a.balance, a.frozen INTO v_id, v_balance, v_frozen FROM wallet_account a
             WHERE a.owner_id = p_owners[i] AND a.unit = p_units[i] AND a.purpose = p_purposes[i];
            IF v_id IS NULL AND p_amounts[i] > 0 THEN
                INSERT INTO wallet_account (owner_id, unit, purpose, balance, settled_balance,
                                            settled_through, frozen, frozen_reason, created_at)
                VALUES (p_owners[i], p_units[i], p_purposes[i], 0, 0, 0, false, '', now())
                ON CONFLICT DO NOTHING;
                CONTINUE;  -- made (or made concurrently): credit it
            END IF;
            IF v_frozen AND p_check_frozen THEN
                RAISE EXCEPTION 'frozen' USING ERRCODE = 'GC002';
            END IF;
            RAISE EXCEPTION '%', coalesce(v_balance, 0)
                USING ERRCODE = 'GC001', DETAIL = p_units[i], HINT = -p_amounts[i];
        END LOOP;
        v_accounts[i] := v_id;
        IF i = v_payer THEN
            payer_balance := v_new;
        END IF;
    END LOOP;

    -- Receive-only user accounts by owner (one indexed lookup), made on first use.
    FOR i IN 1..cardinality(p_amounts) LOOP
        CONTINUE WHEN v_accounts[i] IS NOT NULL;
        SELECT a.id INTO v_id FROM wallet_account a
         WHERE a.owner_id = p_owners[i] AND a.unit = p_units[i] AND a.purpose = p_purposes[i];
        IF v_id IS NULL THEN
            INSERT INTO wallet_account (owner_id, unit, purpose, balance, settled_balance,
                                        settled_through, frozen, frozen_reason, created_at)
            VALUES (p_owners[i], p_units[i], p_purposes[i], 0, 0, 0, false, '', now())
            ON CONFLICT DO NOTHING
            RETURNING id INTO v_id;
            IF v_id IS NULL THEN
                SELECT a.id INTO v_id FROM wallet_account a
                 WHERE a.owner_id = p_owners[i] AND a.unit = p_units[i] AND a.purpose = p_purposes[i];
            END IF;
        END IF;
        v_accounts[i] := v_id;
    END LOOP;

    INSERT INTO wallet_entry (transaction_id, account_id, amount)
    SELECT txn_id, a, m FROM unnest(v_accounts, p_amounts) AS t(a, m);
END;
$$;
"""

OLD_SIGNATURE = "wallet_post(text, text, text, text, text, bigint[], text[], text[], bigint[], boolean[], boolean)"
NEW_SIGNATURE = "wallet_post(text, text, text, text, text, bigint[], bigint[], text[], text[], bigint[], boolean[], boolean)"


ACCOUNT_KEEP = r"""
CREATE FUNCTION wallet_account_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger accounts are never deleted or renumbered (account %)', OLD.id
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER wallet_account_keep BEFORE DELETE OR UPDATE OF id ON wallet_account
    FOR EACH ROW EXECUTE FUNCTION wallet_account_keep();
"""
ACCOUNT_KEEP_DROP = """
DROP TRIGGER IF EXISTS wallet_account_keep ON wallet_account;
DROP FUNCTION IF EXISTS wallet_account_keep();
"""


account_keep = postgresql_only(ACCOUNT_KEEP)
account_keep_drop = postgresql_only(ACCOUNT_KEEP_DROP)
function_replace = postgresql_only(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}", WALLET_POST)
function_restore = postgresql_only(
    f"DROP FUNCTION IF EXISTS {NEW_SIGNATURE}",
    import_module("wallet.migrations.0003_wallet_post_function").CREATE,
)


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0003_wallet_post_function"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(function_replace, function_restore),
        migrations.RemoveConstraint(
            model_name="account",
            name="wallet_account_user_balance_non_negative",
        ),
        migrations.RemoveConstraint(
            model_name="account",
            name="wallet_account_owner_matches_purpose",
        ),
        migrations.AlterField(
            model_name="account",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_accounts",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("balance__gte", 0)), name="wallet_account_balance_non_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.Exact(
                    django.db.models.lookups.IsNull(models.F("owner"), True),
                    django.db.models.lookups.In(
                        models.F("purpose"),
                        [
                            "coin_adjustments",
                            "coins_issued",
                            "coins_spent",
                            "diamond_adjustments",
                            "diamonds_issued",
                            "diamonds_redeemed",
                        ],
                    ),
                ),
                name="wallet_account_system_iff_ownerless",
            ),
        ),
        migrations.AlterField(
            model_name="entry",
            name="account",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT,
                related_name="entries", to="wallet.account",
            ),
        ),  # fmt: skip
        # Last: rows written before an ALTER TABLE in one transaction would block it, and
        # the trigger would refuse the renumbering.
        migrations.RunPython(system_accounts_to_fixed_ids, migrations.RunPython.noop),
        migrations.RunPython(account_keep, account_keep_drop),
    ]
