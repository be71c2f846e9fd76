-- gift_post: one gift, in one call (livestreams.services.gift_send on PostgreSQL).
--
-- Arguments
--   p_sender, p_stream          the fan's user id and the stream's id
--   p_slug, p_quantity          the gift (by slug) and how many of it
--   p_key                       the fan's idempotency key (a UUID, as text)
--   p_anonymous                 the send shows as "Anonymous"
--   p_share                     settings.CREATOR_SHARE
--   p_spent_account,            the system accounts' fixed ids (coins spent on gifts,
--   p_issued_account              diamonds issued)
-- Returns one row
--   sent_id, replayed           the SentGift's id; true when the key was seen before (then
--                               only sent_id, created_at and balance are set, nothing moved)
--   balance                     the fan's coins after the gift
--   gift_id, gift_name, gift_artwork, gift_coins   the catalogue row
--   coins, diamonds             what the send cost and what it earned the creator
--   txn_id, created_at          the ledger transaction and the SentGift's time
--   gifter_id, gifter_coins     the fan's StreamGifter row (this anonymity) and its new total
-- Refusals raise GL001 (stream not live), GL002 (self gift), GL003 (gift unavailable),
-- GL004 (banned), and wallet_post's GC001 (coins short), GC002 (frozen), GC003 (key reused).
--
-- The creator's share is exact per fan per stream (DESIGN §2): a gift earns
-- floor(new_total * share) - floor(old_total * share) on the fan's running total in the
-- stream, named and anonymous sends together. Installed by the newest livestreams migration
-- that freezes a copy of it; tests/config/test_sql_files.py holds the two together.
--
-- enable_seqscan is off inside the call (wallet_post's statements too): each finds its rows
-- by a key, and a session keeps the plans it made at its first gifts. Made while SentGift and
-- StreamGifter were near empty (a new site, or a benchmark) they scanned whole tables for the
-- rest of the session, and halved gifts per second as the tables grew (measured).
CREATE OR REPLACE FUNCTION gift_post(
    p_sender bigint, p_stream bigint, p_slug text, p_quantity int, p_key text,
    p_anonymous boolean, p_share numeric, p_spent_account bigint, p_issued_account bigint,
    OUT sent_id bigint, OUT replayed boolean, OUT balance bigint, OUT gift_id bigint, OUT gift_name text,
    OUT gift_artwork text, OUT gift_coins bigint, OUT coins bigint, OUT diamonds bigint,
    OUT txn_id bigint, OUT created_at timestamptz, OUT gifter_id bigint, OUT gifter_coins bigint
)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_creator bigint;
    v_status text;
    v_handle text;
    v_active boolean;
    v_before bigint;
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

    -- One fan's gifts to one stream take turns from here to the commit, so each reads the
    -- total the one before it left (its named and anonymous rows are two rows, so neither
    -- row's lock would do). Gifts of one fan already queue on the fan's wallet row, taken
    -- later: this adds no waiting, and taken first it can't deadlock with it. A lock of its
    -- own statement: the reads below take their snapshot after it is granted.
    PERFORM pg_advisory_xact_lock(hashtextextended('gift_post:' || p_stream || ':' || p_sender, 0));
    -- A key seen before is priced as it first was, so that wallet_post finds the same
    -- request (its fingerprint holds the diamonds) and replays it instead of refusing it.
    SELECT (SELECT sg.diamonds FROM livestreams_sentgift sg
             WHERE sg.sender_id = p_sender AND sg.key = p_key),
           (SELECT coalesce(sum(t.coins), 0) FROM livestreams_streamgifter t
             WHERE t.stream_id = p_stream AND t.sender_id = p_sender)
      INTO diamonds, v_before;
    diamonds := coalesce(diamonds, floor((v_before + coins) * p_share) - floor(v_before * p_share));

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
    ON CONFLICT (stream_id, sender_id, anonymous) DO UPDATE SET coins = t.coins + excluded.coins
    RETURNING t.id, t.coins INTO gifter_id, gifter_coins;
END;
$$;
