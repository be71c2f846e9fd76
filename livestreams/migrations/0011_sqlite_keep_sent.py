"""The embedded default keeps streams and gifts that gifts were sent in, as PostgreSQL does.

Migration 0007 gave PostgreSQL triggers refusing to delete a stream or a catalogue gift
that a SentGift names (SentGift's foreign keys to them have no database constraint). These
are SQLite's (see wallet migration 0012 for flushes, and for tables a migration rebuilds).
"""

from django.db import migrations

from config.pgcall import sqlite_only
from config.sqlite.base import FLUSH_MARK


def _keep(table: str, column: str) -> str:
    return (
        f"CREATE TRIGGER {table}_keep_sent BEFORE DELETE ON {table} "
        f"WHEN NOT EXISTS (SELECT 1 FROM {FLUSH_MARK}) "
        f"AND EXISTS (SELECT 1 FROM livestreams_sentgift WHERE {column} = OLD.id) "
        f"BEGIN SELECT RAISE(ABORT, '{table} row has gifts sent and is kept'); END"
    )


KEEP = [
    f"CREATE TABLE IF NOT EXISTS {FLUSH_MARK} (flushing integer NOT NULL)",
    _keep("livestreams_stream", "stream_id"),
    _keep("livestreams_gift", "gift_id"),
]
KEEP_DROP = [
    "DROP TRIGGER IF EXISTS livestreams_stream_keep_sent",
    "DROP TRIGGER IF EXISTS livestreams_gift_keep_sent",
]


class Migration(migrations.Migration):
    dependencies = [("livestreams", "0010_gift_post_index_scans")]

    operations = [migrations.RunPython(sqlite_only(*KEEP), sqlite_only(*KEEP_DROP))]
