"""Without Redis, a room's frames should reach the hub in the order their `seq` was stamped, however
many threads broadcast at once (two bursts flushed on worker threads, a chat line beside a
gift): the seq and the frame's place in the event loop's queue are taken in one step.

With Redis one script numbers and publishes a room's frames, so the order holds there by
construction; this is the in-process default's (`make run`) own path.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from asgiref.sync import sync_to_async

from livestreams.realtime import events, hub

pytestmark = pytest.mark.asyncio


@pytest.fixture
def in_process(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


async def test_concurrent_broadcasts_reach_the_hub_in_seq_order(in_process, monkeypatch):
    delivered: list[int] = []

    async def adeliver(stream_id, texts):
        delivered.extend(json.loads(text)["seq"] for text in texts)

    monkeypatch.setattr(hub, "adeliver", adeliver)
    counted = events._count
    first_stamped = threading.Event()

    def slow_first(*counters):
        """The first broadcast is stamped, then loses the CPU before it is queued; the second
        is stamped and queued meanwhile (if nothing stops it)."""
        (last,) = counted(*counters)
        if last == 1:
            first_stamped.set()
            time.sleep(0.3)
        return [last]

    monkeypatch.setattr(events, "_count", slow_first)

    def second():
        first_stamped.wait(5)
        events.broadcast(77, {"type": "chat", "text": "second"})

    await asyncio.gather(
        sync_to_async(events.broadcast, thread_sensitive=False)(
            77, {"type": "chat", "text": "first"}
        ),
        sync_to_async(second, thread_sensitive=False)(),
    )
    for _ in range(50):
        if len(delivered) == 2:
            break
        await asyncio.sleep(0.02)
    assert delivered == [1, 2]
