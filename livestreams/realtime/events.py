"""A room's events: the next `seq` numbers stamped on them and the frames sent, through
Redis (one script numbers and publishes them) or, without it, handed to this process's
hub on its event loop. `broadcast` is the one way anything reaches a room."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref

from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from . import adapters, hub
from .outage import REDIS_AWAY
from .scripts import BROADCAST, _cache, _count, _script

logger = logging.getLogger("livestreams.realtime")
_stamping = threading.RLock()  # without Redis: a room's seq taken and its frames queued together


def current_seq(stream_id: int) -> int:
    return _cache().get(f"room:{stream_id}:seq", 0)


def room_channel(stream_id: int) -> str:
    """The Redis channel the scripts publish a room's frames on (the hub subscribes to it),
    or "" without Redis (then _send hands them to the hub)."""
    return hub.room_channel(stream_id) if isinstance(_cache(), RedisCache) else ""


def _encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


def broadcast(stream_id: int, *events: dict) -> list[dict]:
    """Stamp the room's next `seq` numbers on `events` and send them, in order, to everyone in
    the room. Returns the stamped events. The one way anything reaches a room."""
    backend = _cache()
    channel = room_channel(stream_id) if isinstance(backend, RedisCache) else ""
    if not channel:
        # The seq and the frames' place in the loop's queue in one step: two threads
        # broadcasting at once (bursts flushed on worker threads) queued them in either order.
        with _stamping:
            (last,) = _count((f"room:{stream_id}:seq", len(events), None))
            return _send(stream_id, events, last)
    seq_key = backend.make_and_validate_key(f"room:{stream_id}:seq")
    call = BROADCAST.bind(seq_key=seq_key, channel=channel, frames=[_encode(e) for e in events])
    try:
        last = int(_script(backend, BROADCAST)(*call))
    except REDIS_AWAY as exc:
        # After commit (a chat line, a ban, a stream's end: each in the database, which the
        # state a viewer resyncs to is read from): nothing to undo, so say so and go on.
        kinds = ", ".join(event["type"] for event in events)
        logger.warning("room %s: %s not sent, Redis unreachable (%s)", stream_id, kinds, exc)
        return []
    first = last - len(events) + 1
    return [{**event, "seq": first + i} for i, event in enumerate(events)]


def _send(stream_id: int, events, last: int) -> list[dict]:
    """Without Redis: the stamped frames to this process's viewers (realtime.hub), each
    encoded once here, on the event loop."""
    first = last - len(events) + 1
    stamped = [{"seq": first + i, **event} for i, event in enumerate(events)]
    _run(hub.adeliver, stream_id, [_encode(event) for event in stamped])
    return stamped


_thread = threading.local()


def _run(function, *args) -> None:
    """Run an async function (the hub's delivery) from sync code.

    In the server every sync call descends from the event loop (a consumer or view run via
    sync_to_async): the call is queued to that loop and this thread goes on without waiting
    for it; one queue per loop keeps a room's events in the order they were stamped. A thread
    with no such loop (a management command, a worker thread) runs it on an event loop of its
    own, kept for the thread's life (async_to_sync would start a thread and a loop per call).
    """
    main_loop = adapters.calling_loop()
    if main_loop is not None and main_loop.is_running():
        main_loop.call_soon_threadsafe(_enqueue, main_loop, function, args)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # A loop of someone else's runs in this thread (Playwright's sync API in the browser
        # tests, a notebook) and can't be waited on from inside: use a thread of its own.
        worker = threading.Thread(target=asyncio.run, args=(function(*args),))
        worker.start()
        worker.join()
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
