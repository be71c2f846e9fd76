"""Every touch of another library's private parts that the rooms need, in one place.

An upgrade of daphne, redis-py or Django's cache that moves one of these breaks here, and
tests/livestreams/test_adapters.py says which (test_connection_leak.py for the two methods
wrapped when config.asgi loads). Nothing else in the project reaches past a library's
public API for the rooms.

- Django's cache handler: one backend object for the whole process (`create_connection`).
  `caches[alias]` gives each thread and each async context a backend of its own, and on
  Redis each of those a connection pool, so every viewer's first call opened a Redis
  connection (a join storm spent an eighth of its CPU connecting).
- Django's RedisCache: the redis-py client it holds (`_cache.get_client`) and its server
  URLs (`_servers`), so the scripts run on the cache's own pool and the rooms' subscriber
  reaches the same server.
- asgiref: the event loop a sync thread was called from (`SyncToAsync.threadlocal`), so a
  broadcast from sync code is handed to that loop instead of starting one of its own.
- channels: `DatabaseSyncToAsync.thread_handler`, wrapped so that each database call
  begins with its thread's query log empty, as a request does (queries_forgotten_per_call).
- channels: the `send` that SessionMiddleware wraps (`InstanceSessionWrapper.real_send`;
  a websocket frame never touches the session, only the handshake's reply does).
- daphne: the websocket protocol behind an ASGI `send` (`functools.partial` of the server's
  `handle_reply` with the protocol), so the room's frames are written to each connection
  directly (autobahn's PreparedMessage, made for broadcast, written to the transport unless
  the connection compresses or has frames queued: autobahn's `_perMessageCompress` and
  `send_queue`), with its transport's back-pressure (Twisted's public registerProducer).
- daphne: `WebSocketProtocol.serverAccept`, wrapped so that an accept for a connection
  autobahn already dropped (its `state`, STATE_CLOSED) is not completed
  (dropped_connections_stay_closed).
- Twisted: a TCP transport's buffers (`dataBuffer`, `_tempDataLen`; its socket is public,
  `getHandle()`), to send a frame at once when nothing is waiting (see _write).
- redis-py 7+'s asyncio pools: with maintenance notifications left on ("auto", the default)
  a pooled connection that Redis closed is not replaced when it is taken from the pool, so
  after a restart of Redis each one failed its first command (async_pool_options).
"""

from __future__ import annotations

import functools
import socket

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver

_shared = None


def shared_cache():
    """The default cache, one backend object for the process (thread-safe: redis-py's pool,
    or the local-memory cache's lock)."""
    global _shared
    if _shared is None:
        _shared = caches.create_connection("default")
    return _shared


@receiver(setting_changed)
def _caches_changed(setting, **kwargs):
    global _shared
    if setting == "CACHES":
        _shared = None


def redis_client(backend: RedisCache):
    """The cache's redis-py client (thread-safe over its connection pool)."""
    return backend._cache.get_client(write=True)


def redis_url(backend: RedisCache) -> str:
    """The URL of the cache's (first) Redis server."""
    return backend._servers[0]


def async_pool_options() -> dict:
    """Options for a redis.asyncio pool: the cache's timeouts (REDIS_TIMEOUT), and a pool
    that replaces a connection Redis closed (a restart) when it is taken, as redis-py did
    before maintenance notifications: they are off (a Redis Enterprise feature the rooms
    don't use)."""
    timeouts = {"socket_connect_timeout": settings.REDIS_TIMEOUT,
                "socket_timeout": settings.REDIS_TIMEOUT}  # fmt: skip
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # pragma: no cover - redis-py before 7 checks the connection anyway
        return timeouts
    return {**timeouts, "maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def calling_loop():
    """The event loop that called this sync thread through sync_to_async, if any."""
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def _wrap_once(owner: type, name: str, wrap) -> None:
    """owner.name becomes wrap(owner.name), once however often asked."""
    original = getattr(owner, name)
    if getattr(original, "giftcast_fix", False):
        return
    wrapper = functools.wraps(original)(wrap(original))
    wrapper.giftcast_fix = True
    setattr(owner, name, wrapper)


def queries_forget() -> None:
    """What request_started does for a request (django.db.reset_queries), for a database
    call from a websocket, which no request surrounds: under DEBUG Django logs every query
    on the thread's connection until a request starts, so the worker threads' logs only
    grew, to 9,000 queries (about 9 MB) a thread. A connection logging on purpose
    (force_debug_cursor: assertNumQueries, CaptureQueriesContext) keeps its log."""
    if not settings.DEBUG:
        return  # nothing is logged but on purpose
    for connection in connections.all(initialized_only=True):
        if not connection.force_debug_cursor:
            connection.queries_log.clear()


def queries_forgotten_per_call() -> None:
    """Every channels database_sync_to_async call forgets its thread's query log first
    (channels' own handler only closes stale connections around the call), so the call
    sites keep channels' database_sync_to_async. Installed by config.asgi."""
    from channels.db import DatabaseSyncToAsync

    def wrap(handler):
        def thread_handler(self, loop, *args, **kwargs):
            queries_forget()
            return handler(self, loop, *args, **kwargs)

        return thread_handler

    _wrap_once(DatabaseSyncToAsync, "thread_handler", wrap)


def dropped_connections_stay_closed() -> None:
    """daphne: the application's accept is not completed for a connection autobahn already
    dropped, its opening handshake past the timeout (5 s: a process too busy to answer).
    Completing it (daphne's serverAccept, autobahn's succeedHandshake) set the dead
    connection OPEN again, so its connectionLost failed (AlreadyCalledError) before telling
    daphne: the application never got websocket.disconnect, and the viewer stayed in the
    room, and in its presence, for the life of the process. Left CLOSED, connectionLost
    tells it as for any other closed connection. Installed by config.asgi."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is installed with the project
        return

    def wrap(accept):
        def serverAccept(self, subprotocol=None):  # noqa: N802 - daphne's name
            if self.state != self.STATE_CLOSED:
                accept(self, subprotocol)

        return serverAccept

    _wrap_once(WebSocketProtocol, "serverAccept", wrap)


class DaphneWriter:
    """Writes a room's frames straight into a daphne websocket connection, and knows when
    the connection's outgoing buffer is full: Twisted pauses its transport's producer past
    64 KiB and resumes it once drained. The producer daphne's HTTP channel registered at the
    handshake is kept in the loop (told everything, as before)."""

    __slots__ = ("protocol", "paused", "on_resume", "inner")

    def __init__(self, protocol, on_resume):
        self.protocol = protocol
        self.paused = False
        self.on_resume = on_resume
        transport = protocol.transport
        self.inner = transport.producer
        if self.inner is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)

    # IPushProducer, called by Twisted
    def pauseProducing(self):  # noqa: N802 - Twisted's name
        self.paused = True
        if self.inner is not None:
            self.inner.pauseProducing()

    def resumeProducing(self):  # noqa: N802 - Twisted's name
        self.paused = False
        if self.inner is not None:
            self.inner.resumeProducing()
        self.on_resume()

    def stopProducing(self):  # noqa: N802 - Twisted's name
        self.paused = True
        if self.inner is not None:
            self.inner.stopProducing()

    @property
    def open(self) -> bool:
        return self.protocol.state == self.protocol.STATE_OPEN

    def write(self, prepared) -> None:
        """One text frame, framed once for every connection (prepare()). Straight to the
        transport when autobahn has nothing queued and no compression on the connection:
        its sendData formats a debug log line on every call, whatever the log level (a
        fifth of a big room's fan-out CPU)."""
        protocol = self.protocol
        if protocol._perMessageCompress is None and not protocol.send_queue:
            _write(protocol.transport, prepared.payloadHybi)
        else:
            protocol.sendPreparedMessage(prepared)

    def close(self) -> None:
        pass  # the connection is going: Twisted lets go of its producer itself


def _write(transport, data: bytes) -> None:
    """transport.write, but sent at once when Twisted holds nothing for the connection, as
    asyncio's own transports do: Twisted's write registers the socket for writing and sends
    on the loop's next turn (two epoll changes and a turn per frame per viewer). The rest of
    a partial send, and anything while data is waiting, goes through Twisted as usual
    (its buffer, its back-pressure)."""
    handle = getattr(transport, "getHandle", None)  # tcp.Connection's socket, public
    sock = handle() if handle is not None else None
    if (not isinstance(sock, socket.socket) or transport.dataBuffer or transport._tempDataLen
            or transport.disconnecting or not transport.connected):  # fmt: skip
        transport.write(data)
        return
    try:
        sent = sock.send(data)
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:  # the connection is going: Twisted finds out and closes it
        transport.write(data)
        return
    if sent < len(data):
        transport.write(data[sent:])


def prepare(payload: bytes):
    """A text frame (its UTF-8 bytes) framed once, to be written to many connections:
    autobahn's PreparedMessage (for a connection that negotiated compression autobahn
    compresses it there instead)."""
    from autobahn.websocket.protocol import PreparedMessage

    return PreparedMessage(payload, False, False, False)


def server_send(send):
    """The server's own `send` under the middleware's wrappers (channels' session wrapper)."""
    for _ in range(8):
        wrapper = getattr(send, "__self__", None)
        inner = getattr(wrapper, "real_send", None)
        if inner is None:
            return send
        send = inner
    return send


def direct_writer(send, on_resume):
    """A writer for the connection behind ASGI `send` when the server is one this module
    knows (daphne), else None (the caller then sends through `send`, frame by frame)."""
    send = server_send(send)
    if not isinstance(send, functools.partial) or not send.args:
        return None
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is installed with the project
        return None
    protocol = send.args[0]
    transport = protocol.transport if isinstance(protocol, WebSocketProtocol) else None
    if transport is None or not hasattr(transport, "registerProducer"):
        return None
    return DaphneWriter(protocol, on_resume)
