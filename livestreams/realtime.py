"""Realtime plumbing: the one broadcast helper, per-room sequence numbers, viewer counts,
combos and rate limits. Counters live in the cache (Redis when REDIS_URL is set), so they
hold across server processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

COMBO_SECONDS = 5
logger = logging.getLogger(__name__)


def group_name(stream_id: int) -> str:
    return f"stream.{stream_id}"


def _incr(key: str, by: int = 1, *, timeout: int | None = None) -> int:
    """Add `by` to a counter in the cache, made (with `timeout`) on first use: one round trip
    once the counter exists."""
    for _ in range(3):
        try:
            return cache.incr(key, by)
        except ValueError:  # missing (or just expired): make it, then count
            cache.add(key, 0, timeout=timeout)
    raise RuntimeError(f"cache counter {key} keeps vanishing")


# Several counters in one round trip on Redis: INCRBY each, and give a counter its expiry
# when this call made it (the value equals the increment).
_COUNT_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local by, ttl = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local value = redis.call('INCRBY', key, by)
  if value == by and ttl > 0 then redis.call('EXPIRE', key, ttl) end
  out[i] = value
end
return out
"""


def _count(*counters: tuple[str, int, int | None]) -> list[int]:
    """Add to cache counters, each (key, by, timeout on first use); their new values.

    On Redis (Django's RedisCache) one script call does them all; Django's own incr costs
    two round trips a counter, and a gift moves three. Elsewhere, one _incr each.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return [_incr(key, by, timeout=timeout) for key, by, timeout in counters]
    keys = [backend.make_and_validate_key(key) for key, _, _ in counters]
    args = [arg for _, by, timeout in counters for arg in (by, timeout or 0)]
    client = backend._cache.get_client(keys[0], write=True)  # Django's redis-py client
    return [int(value) for value in client.eval(_COUNT_SCRIPT, len(keys), *keys, *args)]


def current_seq(stream_id: int) -> int:
    return cache.get(f"room:{stream_id}:seq", 0)


def broadcast(stream_id: int, *events: dict) -> list[dict]:
    """Stamp the room's next `seq` numbers on `events` and send them, in order, to everyone in
    the room. Returns the stamped events. The one way anything reaches a room."""
    (last,) = _count((f"room:{stream_id}:seq", len(events), None))
    return _send(stream_id, events, last)


def broadcast_gift(stream_id: int, gift: dict, *more: dict, sender_id: int, slug: str,
                   quantity: int) -> list[dict]:  # fmt: skip
    """`broadcast` for a committed gift: its `combo` (this fan's streak of this gift; a pause of
    COMBO_SECONDS ends it) and the room's `seq` numbers counted in one round trip."""
    combo, last = _count(
        (f"room:{stream_id}:combo:{sender_id}:{slug}", quantity, COMBO_SECONDS),
        (f"room:{stream_id}:seq", 1 + len(more), None),
    )
    return _send(stream_id, [{**gift, "combo": combo}, *more], last)


def _send(stream_id: int, events, last: int) -> list[dict]:
    first = last - len(events) + 1
    stamped = [{**event, "seq": first + i} for i, event in enumerate(events)]
    messages = [{"type": "room.event", "event": event} for event in stamped]
    _run(_group_send, group_name(stream_id), messages)
    return stamped


async def _group_send(group: str, messages: list[dict]) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(group, message)


_thread = threading.local()


def _run(function, *args) -> None:
    """Run an async channel-layer function from sync code.

    In the server every sync call descends from the event loop (a consumer or view run via
    sync_to_async): the call is queued to that loop and this thread goes on without waiting
    for it; one queue per loop keeps a room's events in the order they were stamped. A thread
    with no such loop (a management command, a worker thread) runs it on an event loop of its
    own, kept for the thread's life (async_to_sync would start a thread and a loop per call).
    """
    main_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if main_loop is not None and main_loop.is_running():
        main_loop.call_soon_threadsafe(_enqueue, main_loop, function, args)
        return
    loop = getattr(_thread, "loop", None)
    if loop is None or loop.is_closed():
        loop = _thread.loop = asyncio.new_event_loop()
    loop.run_until_complete(function(*args))


_queues: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> its queue


def _enqueue(loop: asyncio.AbstractEventLoop, function, args) -> None:
    """On `loop`: hand the call to the loop's sender task, started on first use."""
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = asyncio.Queue()
        loop.create_task(_drain(queue), name="giftcast-broadcasts")
    queue.put_nowait((function, args))


async def _drain(queue: asyncio.Queue) -> None:
    while True:
        function, args = await queue.get()
        try:
            await function(*args)
        except Exception:  # a failed send must not stop the ones after it
            logger.exception("room broadcast failed")


def broadcast_on_commit(stream_id: int, event: dict) -> None:
    """Broadcast once the surrounding transaction commits (never for a rolled-back write)."""
    transaction.on_commit(lambda: broadcast(stream_id, event))


def rate_limited(scope: str, user_id: int, spec: str) -> bool:
    """True when `user_id` has used up `spec` ("count/seconds") in the current window."""
    count, seconds = (int(part) for part in spec.split("/"))
    window = int(time.time() // seconds)
    return _count((f"rl:{scope}:{user_id}:{window}", 1, seconds * 2))[0] > count


def viewers_join(stream_id: int) -> int:
    return _count((f"room:{stream_id}:viewers", 1, None))[0]


def viewers_leave(stream_id: int) -> int:
    try:
        return max(cache.decr(f"room:{stream_id}:viewers"), 0)
    except ValueError:
        return 0


def viewers(stream_id: int) -> int:
    return max(cache.get(f"room:{stream_id}:viewers", 0), 0)
