"""Realtime plumbing: the one broadcast helper, per-room sequence numbers, viewer counts,
combos and rate limits. Counters live in the cache (Redis when REDIS_URL is set), so they
hold across server processes.
"""

from __future__ import annotations

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

COMBO_SECONDS = 5


def group_name(stream_id: int) -> str:
    return f"stream.{stream_id}"


def _incr(key: str, by: int = 1, *, timeout: int | None = None) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, by)
    except ValueError:  # expired between add and incr
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key, by)


def next_seq(stream_id: int) -> int:
    return _incr(f"room:{stream_id}:seq", timeout=None)


def current_seq(stream_id: int) -> int:
    return cache.get(f"room:{stream_id}:seq", 0)


def broadcast(stream_id: int, event: dict) -> dict:
    """Stamp the room's next `seq` on `event` and send it to everyone in the room."""
    event = {**event, "seq": next_seq(stream_id)}
    async_to_sync(get_channel_layer().group_send)(
        group_name(stream_id), {"type": "room.event", "event": event}
    )
    return event


def broadcast_on_commit(stream_id: int, event: dict) -> None:
    """Broadcast once the surrounding transaction commits (never for a rolled-back write)."""
    transaction.on_commit(lambda: broadcast(stream_id, event))


def combo_add(stream_id: int, sender_id: int, gift_slug: str, quantity: int) -> int:
    """The running total of this fan's streak of this gift; a pause of COMBO_SECONDS ends it."""
    return _incr(f"room:{stream_id}:combo:{sender_id}:{gift_slug}", quantity, timeout=COMBO_SECONDS)


def rate_limited(scope: str, user_id: int, spec: str) -> bool:
    """True when `user_id` has used up `spec` ("count/seconds") in the current window."""
    count, seconds = (int(part) for part in spec.split("/"))
    window = int(time.time() // seconds)
    return _incr(f"rl:{scope}:{user_id}:{window}", timeout=seconds * 2) > count


def viewers_join(stream_id: int) -> int:
    return _incr(f"room:{stream_id}:viewers", timeout=None)


def viewers_leave(stream_id: int) -> int:
    try:
        return max(cache.decr(f"room:{stream_id}:viewers"), 0)
    except ValueError:
        return 0


def viewers(stream_id: int) -> int:
    return max(cache.get(f"room:{stream_id}:viewers", 0), 0)
