"""One SQL statement on Django's PostgreSQL connection as a prepared statement, through libpq.

For the hottest statements of the site (a gift, a ledger post): each is one database
function call. Through a psycopg cursor such a call cost about 45 µs more Python CPU under
load than libpq's own prepared call (`Connection.pgconn`, psycopg's documented low-level
access), a quarter of a gift's budget (bench/ledger_throughput.py). It is the same
connection, so the same transaction: in autocommit the statement commits itself; inside an
atomic block it joins the open transaction. Errors come back as Django's database errors
with psycopg's (carrying the SQLSTATE) as their cause.

`aprepared_row` is the same for async code (the room's websocket): the statement goes out on
a connection of the event loop's own and is awaited there, with no hop to a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from psycopg import AsyncConnection, Cursor, OperationalError, errors, pq

_prepared: dict[bytes, weakref.WeakSet] = {}  # statement name -> connections holding it


def _numbered(sql: str) -> bytes:
    """`%s` placeholders as libpq's `$1`, `$2`, …"""
    parts = sql.split("%s")
    return (
        "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], start=1)).encode()
        + parts[-1].encode()
    )


def _text(value) -> str | None:
    """A value psycopg loaded, back as PostgreSQL's text form (return json as text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def prepared_row(
    name: str,
    sql: str,
    args: Sequence[str | None],
    *,
    using: str = DEFAULT_DB_ALIAS,
    savepoint: bool = True,
) -> list[str | None] | None:
    """Run `sql` (with `%s` placeholders, text arguments) and return its first row as text.

    The statement is prepared once per database session under `name`. On its own it is its
    own transaction (one round trip). Inside an atomic block it joins it, in a savepoint so
    that an error leaves the caller's transaction usable; `savepoint=False` saves those round
    trips for callers whose whole transaction fails with it anyway.
    """
    conn = connections[using]
    if conn.in_atomic_block:
        with transaction.atomic(using=using, savepoint=savepoint):
            return _prepared_row(conn, name, sql, args)
    return _prepared_row(conn, name, sql, args)


def _prepared_row(conn, name: str, sql: str, args: Sequence[str | None]) -> list[str | None] | None:
    conn.ensure_connection()
    raw = conn.connection
    pgconn = raw.pgconn
    with conn.wrap_database_errors:
        if not raw.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE:
            # Django opened an atomic block and nothing has been sent yet: psycopg must send
            # the BEGIN, so this statement goes through a cursor.
            with Cursor(raw) as cursor:
                cursor.execute(sql, args, prepare=True)
                row = cursor.fetchone()
            return None if row is None else [_text(v) for v in row]
        key = name.encode()
        holders = _prepared.setdefault(key, weakref.WeakSet())
        if raw not in holders:
            result = pgconn.prepare(key, _numbered(sql))
            if result.status != pq.ExecStatus.COMMAND_OK:
                error = errors.error_from_result(result, encoding=raw.info.encoding)
                if error.sqlstate != "42P05":  # already prepared in this session
                    raise error
            holders.add(raw)
        result = pgconn.exec_prepared(key, [None if a is None else a.encode() for a in args])
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise errors.error_from_result(result, encoding=raw.info.encoding)
        if not result.ntuples:
            return None
        return [
            None if (value := result.get_value(0, i)) is None else value.decode()
            for i in range(result.nfields)
        ]


# ----------------------------------------------------------------------------- async

ASYNC_CONNECTIONS = 16  # at most this many statements in flight per event loop and database
_loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {alias: _LoopPool}


class _LoopPool:
    """One event loop's connections to one database: idle ones kept for the next statement,
    at most ASYNC_CONNECTIONS in use at once."""

    def __init__(self):
        self.idle: list[AsyncConnection] = []
        self.slots = asyncio.Semaphore(ASYNC_CONNECTIONS)


async def _open(using: str) -> AsyncConnection:
    """A connection with the settings Django's own would have: autocommit, its time zone."""
    wrapper = connections[using]
    params = {
        key: value
        for key, value in wrapper.get_connection_params().items()
        if key not in ("context", "cursor_factory")  # Django's sync adapters and cursor
    }
    conn = await AsyncConnection.connect(**params, autocommit=True)
    await conn.execute("SELECT set_config('TimeZone', %s, false)", [wrapper.timezone_name])
    return conn


@contextlib.asynccontextmanager
async def _connection(using: str, *, fresh: bool = False):
    pools = _loops.setdefault(asyncio.get_running_loop(), {})
    pool = pools.get(using) or pools.setdefault(using, _LoopPool())
    async with pool.slots:
        kept = None if fresh or not pool.idle else pool.idle.pop()
        conn = kept or await _open(using)
        try:
            yield conn, kept is not None
        finally:
            if conn.broken or conn.info.transaction_status != pq.TransactionStatus.IDLE:
                await conn.close()
            else:
                pool.idle.append(conn)


async def aprepared_row(
    sql: str, args: Sequence[str | None], *, using: str = DEFAULT_DB_ALIAS
) -> list[str | None] | None:
    """prepared_row for async code: `sql` on a connection of this event loop's own, in
    autocommit (it is its own transaction), prepared once per connection; the first row as
    text. Errors come back as Django's DatabaseError with psycopg's as their cause.

    A kept connection the server has since closed fails on its first use; the statement is
    then sent once more on a new one. Only statements that may safely run twice belong
    here (a gift carries its idempotency key: a second run replays the first)."""
    for fresh in (False, True):
        kept = broken = False
        try:
            async with _connection(using, fresh=fresh) as (conn, kept):
                try:
                    cursor = await conn.execute(sql, args, prepare=True)
                    row = await cursor.fetchone()
                finally:
                    broken = conn.broken
            return None if row is None else [_text(v) for v in row]
        except errors.Error as exc:
            if not (isinstance(exc, OperationalError) and kept and broken):
                raise DatabaseError(str(exc)) from exc
    raise AssertionError("unreachable: the second try is on a new connection")


def aconnections_close() -> None:
    """Close every event loop's kept connections (tests: before the database is dropped)."""
    for pools in list(_loops.values()):
        for pool in pools.values():
            while pool.idle:
                pool.idle.pop().pgconn.finish()
    _loops.clear()


def postgresql_only(*statements: str):
    """A RunPython function that executes `statements` on PostgreSQL and nothing elsewhere
    (database functions and triggers the SQLite path does without). Sent without
    parameters, so the driver leaves a function body's `%` alone."""
    return _vendor_only("postgresql", statements)


def sqlite_only(*statements: str):
    """postgresql_only for SQLite: the embedded default's own triggers."""
    return _vendor_only("sqlite", statements)


def _vendor_only(vendor: str, statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == vendor:
            with schema_editor.connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)

    return run
