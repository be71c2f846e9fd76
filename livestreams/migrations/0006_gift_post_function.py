"""PostgreSQL fast path for livestreams.services.gift_send: a whole gift in one call.

gift_post checks the room (stream live, not the sender's own, gift active, sender not
banned), posts the ledger transaction through wallet_post (wallet migration 0004), writes
the SentGift row and the sender's running total, and answers with what the room needs
(the gift, the payer's balance, the top gifters and the stream's coin total). A replayed
key answers with the first gift. Refusals are SQLSTATEs GL001–GL004 (room) and GC001–GC003
(wallet), mapped back to the service's errors in Python. SQLite keeps the ORM path; a test
proves both write the same rows.
"""

from django.db import migrations

from config.pgcall import postgresql_only

GIFT_POST = r"""
CREATE FUNCTION gift_post(
    p_sender bigint, p_stream bigint, p_slug text, p_quantity int, p_key text,
    p_anonymous boolean, p_share numeric, p_spent_account bigint, p_issued_account bigint,
    p_ranking_limit int,
    OUT sent_id bigint, OUT replayed boolean, OUT balance bigint, OUT gift_id bigint, OUT gift_name text,
    OUT gift_artwork text, OUT gift_coins bigint, OUT coins bigint, OUT diamonds bigint,
    OUT txn_id bigint, OUT created_at timestamptz, OUT ranking text, OUT total bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    v_creator bigint;
    v_status text;
    v_handle text;
    v_active boolean;
    v_legs int;
    v_fp text;
BEGIN
    SELECT s.creator_id, s.status, coalesce(p.handle, '') INTO v_creator, v_status, v_handle
      FROM livestreams_stream s LEFT JOIN accounts_profile p ON p.user_id = s.creator_id
     WHERE s.id = p_stream;
    IF v_creator IS NULL OR v_status <> 'live' THEN
        RAISE EXCEPTION 'stream not live' USING ERRCODE = 'GL001';
    END IF;
    IF v_creator = p_sender THEN
        RAISE EXCEPTION 'self gift' USING ERRCODE = 'GL002';
    END IF;
    SELECT g.id, g.name, g.artwork, g.coins, g.active
      INTO gift_id, gift_name, gift_artwork, gift_coins, v_active
      FROM livestreams_gift g WHERE g.slug = p_slug;
    IF gift_id IS NULL OR NOT v_active THEN
        RAISE EXCEPTION 'gift unavailable' USING ERRCODE = 'GL003';
    END IF;
    IF EXISTS (SELECT 1 FROM livestreams_roomban b
                WHERE b.creator_id = v_creator AND b.user_id = p_sender AND b.kind = 'ban') THEN
        RAISE EXCEPTION 'banned' USING ERRCODE = 'GL004';
    END IF;

    coins := gift_coins * p_quantity;
    diamonds := floor(coins * p_share);
    v_legs := CASE WHEN diamonds > 0 THEN 4 ELSE 2 END;
    -- The request's fingerprint exactly as wallet.ledger._fingerprint writes it.
    SELECT encode(sha256(convert_to(
               'gift|stream:' || p_stream || '|' || string_agg(x, ';' ORDER BY x COLLATE "C"),
               'UTF8')), 'hex')
      INTO v_fp
      FROM unnest((ARRAY[p_sender || ':wallet:' || -coins, '0:coins_spent:' || coins,
                         '0:diamonds_issued:' || -diamonds, v_creator || ':earnings:' || diamonds
                  ])[1:v_legs]) AS x;
    SELECT w.txn_id, w.replayed, w.payer_balance INTO txn_id, replayed, balance
      FROM wallet_post(
          'gift', 'gift:' || p_sender || ':' || p_key, v_fp, 'stream:' || p_stream,
          left(gift_name || ' × ' || p_quantity || ' to @' || v_handle, 300),
          (ARRAY[NULL, p_spent_account, p_issued_account, NULL]::bigint[])[1:v_legs],
          (ARRAY[p_sender, NULL, NULL, v_creator]::bigint[])[1:v_legs],
          (ARRAY['wallet', 'coins_spent', 'diamonds_issued', 'earnings'])[1:v_legs],
          (ARRAY['COIN', 'COIN', 'DIAMOND', 'DIAMOND'])[1:v_legs],
          (ARRAY[-coins, coins, -diamonds, diamonds])[1:v_legs],
          (ARRAY[true, false, false, false])[1:v_legs],
          true) AS w;

    IF replayed THEN
        SELECT sg.id, sg.created_at INTO sent_id, created_at FROM livestreams_sentgift sg
         WHERE sg.sender_id = p_sender AND sg.key = p_key;
        RETURN;
    END IF;

    INSERT INTO livestreams_sentgift (stream_id, sender_id, gift_id, quantity, coins, diamonds,
                                      key, anonymous, transaction_id, created_at)
    VALUES (p_stream, p_sender, gift_id, p_quantity, coins, diamonds, p_key, p_anonymous,
            txn_id, now())
    RETURNING id, livestreams_sentgift.created_at INTO sent_id, created_at;
    INSERT INTO livestreams_streamgifter AS t (stream_id, sender_id, anonymous, coins)
    VALUES (p_stream, p_sender, p_anonymous, coins)
    ON CONFLICT (stream_id, sender_id, anonymous) DO UPDATE SET coins = t.coins + excluded.coins;

    -- The profile by a correlated subquery: an index lookup per ranked row, whatever plan
    -- the LIMIT parameter gets (a join was planned as a scan of every profile).
    SELECT coalesce(json_agg((SELECT json_build_array(q.handle, q.display_name,
                                                      q.hide_from_rankings, r.anonymous, r.coins)
                                FROM accounts_profile q WHERE q.user_id = r.sender_id)
                             ORDER BY r.coins DESC, r.id)::text, '[]')
      INTO ranking
      FROM (SELECT g.id, g.sender_id, g.anonymous, g.coins FROM livestreams_streamgifter g
             WHERE g.stream_id = p_stream ORDER BY g.coins DESC, g.id LIMIT p_ranking_limit) r;
    SELECT coalesce(sum(g.coins), 0) INTO total FROM livestreams_streamgifter g
     WHERE g.stream_id = p_stream;
END;
$$;
"""

SIGNATURE = "gift_post(bigint, bigint, text, int, text, boolean, numeric, bigint, bigint, int)"


create = postgresql_only(GIFT_POST)
drop = postgresql_only(f"DROP FUNCTION IF EXISTS {SIGNATURE}")


class Migration(migrations.Migration):
    dependencies = [
        ("livestreams", "0005_backfill_stream_gifters"),
        ("wallet", "0004_system_account_ids"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
