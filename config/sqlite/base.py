"""The embedded default's database: Django's SQLite backend, with the ledger's guard.

SQLite has no TRUNCATE: Django's flush (`manage.py flush`, and the tests' teardown) empties
tables with DELETE, which the triggers refusing to delete ledger rows (wallet migration
0012) would refuse. A flush here first marks itself in `giftcast_flushing`, which the
triggers let through, and clears the mark after: a flush still empties everything, as
TRUNCATE does on PostgreSQL, where row triggers don't fire, while any other DELETE of a
ledger row, by the ORM or by hand, is refused on both databases.
"""

from django.db.backends.sqlite3 import base, operations

FLUSH_MARK = "giftcast_flushing"


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not sql:
            return sql
        return [
            f"CREATE TABLE IF NOT EXISTS {FLUSH_MARK} (flushing integer NOT NULL);",
            f"INSERT INTO {FLUSH_MARK} (flushing) VALUES (1);",  # noqa: S608 - a constant
            *sql,
            f"DELETE FROM {FLUSH_MARK};",  # noqa: S608 - a constant
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
