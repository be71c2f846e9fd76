"""Who is watching: each room's viewers (on Redis a sorted set every process renews for
the connections it holds; without it a count in the process's memory) and the coalesced
`viewers` frames the rooms get."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache.backends.redis import RedisCache

from . import adapters
from .outage import REDIS_AWAY, away
from .scripts import PRESENCE, _ascript, _cache, _count, _script

logger = logging.getLogger("livestreams.realtime")


# Viewers. On Redis a room's viewers are its open connections, in a sorted set scored by
# when their process last vouched for them: every PRESENCE_BEAT seconds each process renews
# the connections it holds, and a connection not renewed for PRESENCE_SECONDS no longer
# counts. So a process that dies (killed, out of memory, a lost machine) takes its viewers
# with it within a minute, instead of leaving them counted for good. Without Redis (one
# process) the count is a counter in the process's own memory, which dies with it.
PRESENCE_SECONDS = 60
PRESENCE_BEAT = 20
_present: dict[int, set[str]] = {}  # this process's connections, by room
_present_lock = threading.Lock()


def _presence(backend: RedisCache, stream_id: int, action: str, connections) -> int:
    return int(_script(backend, PRESENCE)(*_presence_call(backend, stream_id, action, connections)))


def _presence_call(backend: RedisCache, stream_id: int, action: str, connections):
    return PRESENCE.bind(
        present=backend.make_and_validate_key(f"room:{stream_id}:present"),
        now=time.time(), action=action, ttl=PRESENCE_SECONDS, connections=list(connections),
    )  # fmt: skip


def _present_add(stream_id: int, connection: str) -> None:
    with _present_lock:
        _present.setdefault(stream_id, set()).add(connection)
        _presence_beat_start()


def viewers_join(stream_id: int, connection: str) -> int:
    """`connection` (a websocket's own id) is watching the room; the room's count."""
    backend = _cache()
    if not isinstance(backend, RedisCache):
        return _count((f"room:{stream_id}:viewers", 1, None))[0]
    _present_add(stream_id, connection)
    try:
        return _presence(backend, stream_id, "join", [connection])
    except BaseException:  # Redis away, or the join cancelled (daphne gave up on it)
        _present_discard(stream_id, connection)  # not in the room: never renewed
        raise


async def aviewers_join(stream_id: int, connection: str) -> int:
    """viewers_join on the event loop (no worker thread): on Redis the presence script is
    awaited on the loop's own client; the local-memory counter is a dictionary's."""
    backend = _cache()
    if not isinstance(backend, RedisCache):
        return _count((f"room:{stream_id}:viewers", 1, None))[0]
    _present_add(stream_id, connection)
    call = _presence_call(backend, stream_id, "join", [connection])
    try:
        return int(await _ascript(backend, PRESENCE)(*call))
    except BaseException:  # Redis away, or the join cancelled (daphne gave up on it)
        _present_discard(stream_id, connection)  # not in the room: never renewed
        raise


def viewers_leave(stream_id: int, connection: str) -> int:
    backend = _cache()
    if not isinstance(backend, RedisCache):
        try:
            return max(_cache().decr(f"room:{stream_id}:viewers"), 0)
        except ValueError:
            return 0
    _present_discard(stream_id, connection)
    return _presence(backend, stream_id, "leave", [connection])


def _present_discard(stream_id: int, connection: str) -> None:
    with _present_lock:
        room = _present.get(stream_id, set())
        room.discard(connection)
        if not room:
            _present.pop(stream_id, None)


def viewers(stream_id: int) -> int:
    return viewers_of([stream_id])[stream_id]


def viewers_of(stream_ids: list[int]) -> dict[int, int]:
    """Viewer counts of several rooms, in one round trip."""
    backend = _cache()
    if not isinstance(backend, RedisCache):
        counts = _cache().get_many([f"room:{pk}:viewers" for pk in stream_ids])
        return {pk: max(counts.get(f"room:{pk}:viewers", 0), 0) for pk in stream_ids}
    since = time.time() - PRESENCE_SECONDS
    pipe = adapters.redis_client(backend).pipeline(transaction=False)
    for pk in stream_ids:
        pipe.zcount(backend.make_and_validate_key(f"room:{pk}:present"), since, "+inf")
    return {pk: int(count) for pk, count in zip(stream_ids, pipe.execute(), strict=True)}


# A room's viewer count changes with every join and leave; announcing each change would
# send every viewer a frame per join (1,000 viewers arriving: a million frames). Instead a
# change marks the room, and each process's ticker (one task on its event loop) announces
# the marked rooms' counts once per ROOM_VIEWERS_INTERVAL: one `viewers` frame per room per
# interval. Across processes a room's announcement is claimed in the cache for the
# interval, so several processes holding one room still send one frame per interval; a
# process that loses the claim keeps its mark and tries at the next tick.
_viewers_tickers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> _Ticker


class _Ticker:
    """One event loop's marked rooms (each with the highest count seen since it was last
    announced, for the stream's peak) and the task announcing them."""

    def __init__(self, loop, announce):
        self.marked: dict[int, int] = {}
        self.announce = announce
        self.task = loop.create_task(self.run(), name="giftcast-viewers")

    async def run(self) -> None:
        """Announce the marked rooms each interval; ends after an interval with none marked
        (the next change starts it again)."""
        while True:
            await asyncio.sleep(settings.ROOM_VIEWERS_INTERVAL)
            if not self.marked:
                return
            rooms, self.marked = self.marked, {}
            try:
                unclaimed = await database_sync_to_async(self.announce, thread_sensitive=False)(
                    rooms
                )
            except REDIS_AWAY as exc:  # the next tick tries again
                away("viewer counts not announced", exc)
                unclaimed = list(rooms)
            except Exception:  # the database away for a moment: the next tick tries
                logger.exception("viewer counts not announced")
                unclaimed = list(rooms)
            for stream_id in unclaimed:
                self.marked[stream_id] = max(self.marked.get(stream_id, 0), rooms[stream_id])


def viewers_changed(stream_id: int, announce: Callable[[dict[int, int]], list[int]],
                    count: int = 0) -> None:  # fmt: skip
    """On the event loop: the room's count changed (to `count`, when known). At the next
    tick `announce({room: highest count seen})`, sync, on a worker thread, sends the counts
    of the rooms it can claim and returns those it could not (marked again)."""
    loop = asyncio.get_running_loop()
    ticker = _viewers_tickers.get(loop)
    if ticker is None or ticker.task.done():
        ticker = _viewers_tickers[loop] = _Ticker(loop, announce)
    ticker.marked[stream_id] = max(ticker.marked.get(stream_id, 0), count)


def viewers_claim(stream_id: int) -> bool:
    """Whether this process announces the room's count for the coming interval (claimed in
    the cache for ROOM_VIEWERS_INTERVAL, to the millisecond on Redis)."""
    key = f"room:{stream_id}:viewers-announced"
    backend = _cache()
    if isinstance(backend, RedisCache):
        milliseconds = max(1, int(settings.ROOM_VIEWERS_INTERVAL * 1000))
        client = adapters.redis_client(backend)
        return bool(client.set(backend.make_and_validate_key(key), 1, nx=True, px=milliseconds))
    return _cache().add(key, 1, timeout=settings.ROOM_VIEWERS_INTERVAL)


def presence_beat() -> None:
    """Renew this process's connections in every room it holds (run every PRESENCE_BEAT)."""
    backend = _cache()
    with _present_lock:
        rooms = {stream_id: list(members) for stream_id, members in _present.items()}
    for stream_id, members in rooms.items():
        _presence(backend, stream_id, "join", members)


_beat_thread: threading.Thread | None = None


def _presence_beat_start() -> None:
    """The process's heartbeat thread, started with its first viewer (under _present_lock)."""
    global _beat_thread
    if _beat_thread is not None and _beat_thread.is_alive():
        return

    def beat() -> None:
        while True:
            time.sleep(PRESENCE_BEAT)
            try:
                presence_beat()
            except REDIS_AWAY as exc:  # the next beat tries again; what lapsed meanwhile is renewed
                away("viewer presence not renewed", exc)
            except Exception:  # the next beat tries again
                logger.exception("viewer presence beat failed")

    _beat_thread = threading.Thread(target=beat, name="giftcast-presence", daemon=True)
    _beat_thread.start()
