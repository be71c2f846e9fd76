-- wallet_post: one ledger transaction, in one call (wallet.ledger.transfer_post on PostgreSQL).
--
-- Arguments
--   p_kind, p_key           the transaction's kind and idempotency key (unique)
--   p_fingerprint           the request's fingerprint (wallet.ledger._fingerprint): a key
--                           seen before with another fingerprint is refused, GC003
--   p_reference, p_memo     the transaction's reference and memo
--   p_accounts              per leg: a system account's fixed id, or NULL for a user's
--   p_owners, p_purposes,   per leg: the user account's owner, purpose and unit (found, or
--   p_units                   made on first use, for receive-only accounts)
--   p_amounts               per leg: the signed amount (the legs of each unit sum to zero)
--   p_cached                per leg: the account keeps a cached balance (wallets) that a
--                           debit is checked against (GC001 coins short)
--   p_check_frozen          refuse a debit of a frozen wallet (GC002)
-- Returns one row
--   txn_id, replayed        the transaction's id; true when the key was seen before with the
--                           same fingerprint (then nothing moved)
--   payer_balance           the debited wallet's balance after the call
--
-- Installed by wallet migration 0004, which freezes a copy of it; a change here needs a
-- migration of its own. tests/config/test_sql_files.py holds the two together.
CREATE OR REPLACE FUNCTION wallet_post(
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
