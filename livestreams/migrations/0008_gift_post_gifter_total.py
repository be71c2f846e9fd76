"""gift_post answers with the sender's running total instead of the room's ranking.

The ranking and coin total it read per gift (about a third of its database time, and a sum
over every gifter of the room, so a big room paid more per gift) are now kept on Redis by
the broadcast that follows the commit (livestreams.realtime): the call returns the row id
and new total of the sender's StreamGifter row, which is all the room's board needs.

StreamGifter loses its (stream, -coins) index, the only index on `coins`: a gifter's running
total is now updated in place (a HOT update, with room left on each page for it) instead of
adding an entry to every index on every gift. Two indexes that a composite one already
covers go: SentGift.sender (by sender_key) and SentGift.stream / StreamGifter.stream (by
their (stream, …) indexes).
"""

from importlib import import_module

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.pgcall import postgresql_only

OLD_SIGNATURE = "gift_post(bigint, bigint, text, int, text, boolean, numeric, bigint, bigint, int)"
SIGNATURE = "gift_post(bigint, bigint, text, int, text, boolean, numeric, bigint, bigint)"

GIFT_POST = r"""
CREATE FUNCTION gift_post(
    p_sender bigint, p_stream bigint, p_slug text, p_quantity int, p_key text,
    p_anonymous boolean, p_share numeric, p_spent_account bigint, p_issued_account bigint,
    OUT sent_id bigint, OUT replayed boolean, OUT balance bigint, OUT gift_id bigint, OUT gift_name text,
    OUT gift_artwork text, OUT gift_coins bigint, OUT coins bigint, OUT diamonds bigint,
    OUT txn_id bigint, OUT created_at timestamptz, OUT gifter_id bigint, OUT gifter_coins bigint
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
    ON CONFLICT (stream_id, sender_id, anonymous) DO UPDATE SET coins = t.coins + excluded.coins
    RETURNING t.id, t.coins INTO gifter_id, gifter_coins;
END;
$$;

"""

replace = postgresql_only(
    f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}",
    GIFT_POST,
    "ALTER TABLE livestreams_streamgifter SET (fillfactor = 80)",
)
restore = postgresql_only(
    f"DROP FUNCTION IF EXISTS {SIGNATURE}",
    import_module("livestreams.migrations.0006_gift_post_function").GIFT_POST,
    "ALTER TABLE livestreams_streamgifter RESET (fillfactor)",
)


class Migration(migrations.Migration):
    dependencies = [
        ("livestreams", "0007_gift_rows_unlocked"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(replace, restore),
        migrations.RemoveIndex(model_name="streamgifter", name="livestreams_gifter_rank"),
        migrations.AlterField(
            model_name="sentgift",
            name="sender",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT,
                related_name="sent_gifts", to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="sentgift",
            name="stream",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT,
                related_name="gifts", to="livestreams.stream",
            ),
        ),
        migrations.AlterField(
            model_name="streamgifter",
            name="stream",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                related_name="gifters", to="livestreams.stream",
            ),
        ),
    ]  # fmt: skip
