-- What a restored copy must agree on with the database it was dumped from, one line each:
-- how many rows the money tables hold, the coins and diamonds in users' accounts, and
-- digests of every account's stored balance columns beside its entries' sum, of every
-- entry and transaction, of the id sequences, and of the database functions and triggers
-- the ledger relies on (a restore that lost gift_post or a trigger could still add up).
--   psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -f deploy/ledger-summary.sql
-- Two quiet databases with the same history print the same lines (docs/operations.md,
-- "Backup and restore"; deploy/backup-restore-check.sh compares them with diff).
SELECT 'transactions ' || count(*) FROM wallet_transaction;
SELECT 'transactions ' || kind || ' ' || count(*)
FROM wallet_transaction GROUP BY kind ORDER BY kind;
SELECT 'entries ' || count(*) FROM wallet_entry;
SELECT 'accounts ' || count(*) FROM wallet_account;
SELECT 'recharges ' || count(*) FROM wallet_recharge;
SELECT 'webhook events ' || count(*) FROM wallet_webhookevent;
SELECT 'gifts sent ' || count(*) FROM livestreams_sentgift;
SELECT 'payouts ' || count(*) FROM payouts_payout;
SELECT 'held by users ' || a.unit || ' ' || sum(e.amount)
FROM wallet_entry e JOIN wallet_account a ON a.id = e.account_id
WHERE a.owner_id IS NOT NULL
GROUP BY a.unit ORDER BY a.unit;
SELECT 'account digest ' || coalesce(md5(string_agg(
    concat_ws(':', a.id, a.balance, a.settled_balance, a.settled_through, a.frozen,
              coalesce(s.total, 0)),
    ',' ORDER BY a.id)), 'none')
FROM wallet_account a
LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet_entry GROUP BY account_id) s
    ON s.account_id = a.id;
SELECT 'entry digest ' || coalesce(md5(string_agg(
    concat_ws(':', id, transaction_id, account_id, amount), ',' ORDER BY id)), 'none')
FROM wallet_entry;
SELECT 'transaction digest ' || coalesce(md5(string_agg(
    concat_ws(':', id, kind, idempotency_key, fingerprint), ',' ORDER BY id)), 'none')
FROM wallet_transaction;
SELECT 'sequence digest ' || coalesce(md5(string_agg(
    sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY sequencename)), 'none')
FROM pg_sequences WHERE schemaname = 'public';
SELECT 'functions ' || count(*) || ' ' || coalesce(md5(string_agg(
    pg_get_functiondef(p.oid), ',' ORDER BY p.proname, p.oid::regprocedure::text)), 'none')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f';
SELECT 'triggers ' || count(*) || ' ' || coalesce(md5(string_agg(
    c.relname || '.' || t.tgname || '=' || pg_get_triggerdef(t.oid), ','
    ORDER BY c.relname, t.tgname)), 'none')
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal;
