"""SentGift.stream, SentGift.gift and StreamGifter.stream lose their database foreign keys
(see the models: each gift locked the room's and the gift's row). In their place, on
PostgreSQL, a trigger refuses to delete a stream or a catalogue gift that has sends, the one
way such a reference could dangle; the ORM's PROTECT says the same first. (SQLite, the
single-writer embedded default, relies on PROTECT.)
"""

import django.db.models.deletion
from django.db import migrations, models

from config.pgcall import postgresql_only


KEEP = r"""
CREATE FUNCTION livestreams_keep_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM livestreams_sentgift sg
                WHERE (TG_TABLE_NAME = 'livestreams_stream' AND sg.stream_id = OLD.id)
                   OR (TG_TABLE_NAME = 'livestreams_gift' AND sg.gift_id = OLD.id)) THEN
        RAISE EXCEPTION '% % has gifts sent and is kept', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER livestreams_stream_keep_sent BEFORE DELETE ON livestreams_stream
    FOR EACH ROW EXECUTE FUNCTION livestreams_keep_sent();
CREATE TRIGGER livestreams_gift_keep_sent BEFORE DELETE ON livestreams_gift
    FOR EACH ROW EXECUTE FUNCTION livestreams_keep_sent();
"""
KEEP_DROP = """
DROP TRIGGER IF EXISTS livestreams_stream_keep_sent ON livestreams_stream;
DROP TRIGGER IF EXISTS livestreams_gift_keep_sent ON livestreams_gift;
DROP FUNCTION IF EXISTS livestreams_keep_sent();
"""


keep = postgresql_only(KEEP)
keep_drop = postgresql_only(KEEP_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("livestreams", "0006_gift_post_function"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sentgift",
            name="gift",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="livestreams.gift",
            ),
        ),
        migrations.AlterField(
            model_name="sentgift",
            name="stream",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="gifts",
                to="livestreams.stream",
            ),
        ),
        migrations.AlterField(
            model_name="streamgifter",
            name="stream",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="gifters",
                to="livestreams.stream",
            ),
        ),
        migrations.RunPython(keep, keep_drop),
    ]
