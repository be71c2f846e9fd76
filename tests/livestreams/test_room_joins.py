"""Joins that scale: a join costs the room no frame of its own. Viewer counts reach the room
coalesced, at most one `viewers` frame per room per ROOM_VIEWERS_INTERVAL, and a storm of
joins is served whole. Runs on the in-memory layer and on Redis alike (CI runs both)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from livestreams import realtime, services
from livestreams.models import Stream
from tests.livestreams.factories import live_stream
from tests.livestreams.test_consumer import _communicator

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]
INTERVAL = 0.3


@pytest.fixture(autouse=True)
def _quick_counts(settings):
    settings.ROOM_VIEWERS_INTERVAL = INTERVAL


async def _frames(comm, wait: float) -> list[dict]:
    """Every frame that arrives within `wait` seconds of quiet."""
    frames = []  # (a timeout in receive_json_from would end the application)
    while not await comm.receive_nothing(timeout=wait):
        frames.append(await comm.receive_json_from())
    return frames


async def _join(stream_id: int, n: int) -> list:
    comms = [await _communicator(stream_id) for _ in range(n)]
    connected = await asyncio.gather(*(c.connect(timeout=30) for c in comms))
    assert all(ok for ok, _ in connected)
    states = await asyncio.gather(*(c.receive_json_from(timeout=30) for c in comms))
    assert [s["type"] for s in states] == ["state"] * n
    return comms


async def _peak(stream_id: int) -> int:
    return await database_sync_to_async(lambda: Stream.objects.get(pk=stream_id).peak_viewers)()


async def peak_when_announced(stream_id: int, want: int) -> int:
    """The stream's peak, once the coalesced announcement has remembered it (or 5 s)."""
    for _ in range(50):
        if (peak := await _peak(stream_id)) >= want:
            return peak
        await asyncio.sleep(0.1)
    return await _peak(stream_id)


async def test_viewer_counts_reach_the_room_coalesced():
    stream = await database_sync_to_async(live_stream)()
    comms = await _join(stream.pk, 30)
    seen = await asyncio.gather(*(_frames(c, 3 * INTERVAL) for c in comms))
    for frames in seen:
        counts = [f["count"] for f in frames if f["type"] == "viewers"]
        assert 1 <= len(counts) <= 3, counts  # not one per join (30)
        assert counts[-1] == 30
    assert await peak_when_announced(stream.pk, 30) == 30  # remembered with the announcement

    for comm in comms[:10]:
        await comm.disconnect()
    seen = await asyncio.gather(*(_frames(c, 3 * INTERVAL) for c in comms[10:]))
    for frames in seen:
        counts = [f["count"] for f in frames if f["type"] == "viewers"]
        assert 1 <= len(counts) <= 3 and counts[-1] == 20, counts
    for comm in comms[10:]:
        await comm.disconnect()


async def test_a_join_storm_is_served_whole():
    """200 viewers at once (CI's size of the 1,000 of bench/fanout.py): every handshake
    succeeds, every viewer gets the room's state, and a few frames each, not 200."""
    stream = await database_sync_to_async(live_stream)()
    comms = await _join(stream.pk, 200)
    seen = await asyncio.gather(*(_frames(c, 3 * INTERVAL) for c in comms))
    for frames in seen:
        assert len(frames) <= 5, [f["type"] for f in frames]
        assert [f["count"] for f in frames if f["type"] == "viewers"][-1] == 200
    assert await database_sync_to_async(realtime.viewers)(stream.pk) == 200
    for comm in comms:
        await comm.disconnect()
    assert await database_sync_to_async(realtime.viewers)(stream.pk) == 0


async def test_one_process_announces_a_room_per_interval(settings):
    """Several processes holding one room: the first to claim the interval announces, the
    others keep their mark for the next tick."""
    settings.ROOM_VIEWERS_INTERVAL = 5

    def check():
        stream = live_stream()
        realtime.viewers_join(stream.pk, "a")
        assert services.viewers_announce({stream.pk: 3}) == []
        # The peak is the highest count a join saw since the last tick, not only the count now.
        assert Stream.objects.get(pk=stream.pk).peak_viewers == 3
        assert services.viewers_announce({stream.pk: 1}) == [stream.pk]  # claimed this interval

    await database_sync_to_async(check)()


async def test_a_viewer_whose_handler_fails_leaves_the_room(monkeypatch):
    """An exception in a handler ends the connection without disconnect(): the viewer must
    not stay counted (and renewed) for the life of the process."""
    stream = await database_sync_to_async(live_stream)()
    comm = (await _join(stream.pk, 1))[0]
    assert await database_sync_to_async(realtime.viewers)(stream.pk) == 1

    async def broken(self, frame):
        raise RuntimeError("a bug")

    from livestreams import frames
    from livestreams.consumers import RoomConsumer

    monkeypatch.setitem(RoomConsumer.HANDLERS, frames.Sync, broken)
    await comm.send_json_to({"type": "sync"})
    with pytest.raises(RuntimeError, match="a bug"):
        await comm.wait(timeout=3)
    assert await database_sync_to_async(realtime.viewers)(stream.pk) == 0
