"""PostgreSQL fast path for wallet.ledger.transfer_post: one function call per transaction.

Only created on PostgreSQL; SQLite uses the portable ORM path (a test proves both write the
same ledger). The statement count is kept small on purpose: each one costs CPU on every gift.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION wallet_post(
    p_kind text, p_key text, p_fingerprint text, p_reference text, p_memo text,
    p_owners bigint[], p_purposes text[], p_units text[], p_amounts bigint[],
    p_cached boolean[], p_check_frozen boolean
) RETURNS TABLE (txn_id bigint, replayed boolean, payer_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_txn bigint;
    v_fp text;
    v_accounts bigint[];
    v_id bigint;
    v_balance bigint;
    v_frozen boolean;
    v_new_balance bigint;
    v_first_balance bigint;
    v_order int[];
    i int;
    n int := cardinality(p_amounts);
BEGIN
    INSERT INTO wallet_transaction (kind, idempotency_key, fingerprint, reference, memo, created_at)
    VALUES (p_kind, p_key, p_fingerprint, p_reference, p_memo, now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_txn;
    IF v_txn IS NULL THEN
        SELECT id, fingerprint INTO v_txn, v_fp FROM wallet_transaction WHERE idempotency_key = p_key;
        IF v_fp IS DISTINCT FROM p_fingerprint THEN
            RAISE EXCEPTION 'idempotency key reused for a different request' USING ERRCODE = 'GC003';
        END IF;
        -- The payer's balance now (the first cached leg), for the caller's answer.
        RETURN QUERY SELECT v_txn, true,
            (SELECT w.balance FROM wallet_account w
              WHERE w.owner_id = p_owners[array_position(p_cached, true)]
                AND w.purpose = p_purposes[array_position(p_cached, true)]);
        RETURN;
    END IF;

    -- Resolve (owner, unit, purpose) to accounts: one indexed lookup per leg (measured
    -- cheaper than one set-based statement), creating accounts on first use.
    v_accounts := array_fill(NULL::bigint, ARRAY[n]);
    FOR i IN 1..n LOOP
        IF p_owners[i] IS NULL THEN
            SELECT id INTO v_id FROM wallet_account
             WHERE owner_id IS NULL AND unit = p_units[i] AND purpose = p_purposes[i];
        ELSE
            SELECT id INTO v_id FROM wallet_account
             WHERE owner_id = p_owners[i] AND unit = p_units[i] AND purpose = p_purposes[i];
        END IF;
        IF v_id IS NULL THEN
            -- A concurrent first use may win the insert; then read its row.
            INSERT INTO wallet_account (owner_id, unit, purpose, balance, settled_balance,
                                        settled_through, frozen, frozen_reason, created_at)
            VALUES (p_owners[i], p_units[i], p_purposes[i], 0, 0, 0, false, '', now())
            ON CONFLICT DO NOTHING
            RETURNING id INTO v_id;
            IF v_id IS NULL THEN
                SELECT id INTO v_id FROM wallet_account
                 WHERE (owner_id = p_owners[i] OR (owner_id IS NULL AND p_owners[i] IS NULL))
                   AND unit = p_units[i] AND purpose = p_purposes[i];
            END IF;
        END IF;
        v_accounts[i] := v_id;
    END LOOP;

    -- Cached balances change here, in account-id order (no deadlocks); a debit only if the
    -- balance covers it and the account is not frozen.
    v_order := array_positions(p_cached, true);
    IF cardinality(v_order) > 1 THEN
        SELECT array_agg(k ORDER BY v_accounts[k]) INTO v_order FROM unnest(v_order) AS k;
    END IF;
    FOREACH i IN ARRAY v_order LOOP
        UPDATE wallet_account SET balance = balance + p_amounts[i]
         WHERE id = v_accounts[i]
           AND (p_amounts[i] >= 0 OR (balance + p_amounts[i] >= 0
                AND NOT (frozen AND p_check_frozen AND owner_id IS NOT NULL)))
        RETURNING balance INTO v_new_balance;
        IF NOT FOUND THEN
            SELECT balance, frozen INTO v_balance, v_frozen FROM wallet_account WHERE id = v_accounts[i];
            IF v_frozen AND p_check_frozen THEN
                RAISE EXCEPTION 'frozen' USING ERRCODE = 'GC002';
            END IF;
            RAISE EXCEPTION '%', v_balance USING ERRCODE = 'GC001', DETAIL = p_units[i];
        END IF;
        IF i = array_position(p_cached, true) THEN
            v_first_balance := v_new_balance;  -- the payer's balance, for the caller's answer
        END IF;
    END LOOP;

    INSERT INTO wallet_entry (transaction_id, account_id, amount)
    SELECT v_txn, a, m FROM unnest(v_accounts, p_amounts) AS t(a, m);
    RETURN QUERY SELECT v_txn, false, v_first_balance;
END;
$$;
"""

DROP = "DROP FUNCTION IF EXISTS wallet_post(text, text, text, text, text, bigint[], text[], text[], bigint[], boolean[], boolean);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No parameters, so the driver leaves the function body's '%' alone.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0002_seed_coin_packages")]

    operations = [migrations.RunPython(create, drop)]
