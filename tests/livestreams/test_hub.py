"""The process's room hub (livestreams/realtime/hub.py): every viewer that keeps up gets every
frame in `seq` order; a viewer that stops reading is held to a bounded backlog, then told to
resync, and never slows the others; a joining viewer is brought from a held state to now."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from livestreams.realtime import hub

pytestmark = pytest.mark.asyncio
ROOM = 987_654


class FakeWriter:
    """A connection written to directly (as daphne's): `paused` when its buffer is full."""

    def __init__(self):
        self.paused = False
        self.open = True
        self.frames: list[str] = []
        self.on_resume = None

    def write(self, prepared):
        self.frames.append(prepared.payload.decode())

    def close(self):
        pass

    def resume(self):
        self.paused = False
        self.on_resume()


def _viewer(writer=None, send=None) -> hub.Viewer:
    async def ignore(*_):
        return None

    viewer = hub.Viewer(send or ignore, None, ignore)
    if writer is not None:
        viewer.writer = writer
        writer.on_resume = viewer._resumed
    return viewer


def _frames(first: int, n: int) -> list[str]:
    return [
        json.dumps({"seq": seq, "type": "chat", "text": f"m{seq}"}, separators=(",", ":"))
        for seq in range(first, first + n)
    ]


@pytest.fixture
async def room():
    yield ROOM
    for viewer in list(hub._rooms.get(ROOM, hub.Room()).viewers):
        await hub.leave(ROOM, viewer)


def _seqs(texts: list[str]) -> list[int]:
    return [json.loads(t).get("seq") for t in texts]


async def test_a_slow_viewer_is_resynced_and_never_slows_the_others(room, settings):
    fast, slow = FakeWriter(), FakeWriter()
    keeping_up, stalled = _viewer(fast), _viewer(slow)
    for viewer in (keeping_up, stalled):
        await hub.join(room, viewer)
        viewer.start()
    slow.paused = True  # it stopped reading: its buffer is full
    total = hub.BACKLOG * 3
    for first in range(1, total, 8):
        hub.deliver(room, _frames(first, 8))
    assert _seqs(fast.frames) == list(range(1, total + 1))  # every frame, in order, no gap
    assert slow.frames == []
    assert len(stalled.backlog) <= hub.BACKLOG and stalled.behind  # memory stays bounded
    slow.resume()
    assert [json.loads(t)["type"] for t in slow.frames] == ["resync"]  # told, not dropped unsaid
    hub.deliver(room, _frames(total + 1, 2))
    assert _seqs(slow.frames[1:]) == [total + 1, total + 2]  # live again after the resync


async def test_a_briefly_slow_viewer_gets_what_was_held_in_order(room):
    writer = FakeWriter()
    viewer = _viewer(writer)
    await hub.join(room, viewer)
    viewer.start()
    writer.paused = True
    hub.deliver(room, _frames(1, 5))
    writer.resume()
    hub.deliver(room, _frames(6, 2))
    assert _seqs(writer.frames) == [1, 2, 3, 4, 5, 6, 7]


async def test_through_asgi_send_a_viewer_that_never_reads_is_held_to_the_backlog(room):
    """Servers the hub can't write to directly: frames go through ASGI `send`, one task per
    viewer; a `send` that never returns (a client that never reads, on a server whose send
    waits for the connection to drain) fills the bounded backlog, not memory."""
    stuck = asyncio.Event()
    sent: list[str] = []

    async def never_drains(message):
        await stuck.wait()

    async def records(message):
        sent.append(message["text"])

    stalled, keeping_up = _viewer(send=never_drains), _viewer(send=records)
    for viewer in (stalled, keeping_up):
        await hub.join(room, viewer)
        viewer.start()
    for first in range(1, hub.BACKLOG * 2, 32):
        hub.deliver(room, _frames(first, 32))
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert _seqs(sent) == list(range(1, hub.BACKLOG * 2 + 1))
    assert stalled.behind and len(stalled.backlog) <= hub.BACKLOG
    stalled.close()
    stuck.set()


async def test_a_joining_viewer_is_brought_from_the_held_state_to_now(room):
    watcher = _viewer(FakeWriter())
    await hub.join(room, watcher)
    watcher.start()
    hub.state_keep(room, (1, {"type": "state", "seq": 3}), read_at=time.monotonic())
    hub.deliver(room, _frames(1, 6))  # seq 1..6; the state covers up to 3
    held = hub.state_held(room)
    assert held is not None and held[1]["seq"] == 3
    writer = FakeWriter()
    joiner = _viewer(writer)
    await hub.join(room, joiner)
    hub.deliver(room, _frames(7, 1))  # arrives while the joiner's state is on its way
    joiner.start(hub.since(room, held[1]["seq"]))
    assert _seqs(writer.frames) == [4, 5, 6, 7]  # from the state to now, nothing twice


async def test_a_stream_that_ends_is_not_served_from_a_held_state(room):
    await hub.join(room, _viewer(FakeWriter()))
    hub.state_keep(
        room, (1, {"type": "state", "seq": 0, "status": "live"}), read_at=time.monotonic()
    )
    hub.deliver(room, [json.dumps({"seq": 1, "type": "stream.ended"}, separators=(",", ":"))])
    assert hub.state_held(room) is None


async def test_frames_are_found_by_seq_wherever_it_sits(room):
    """Frames stamped in Python end with their seq; the held state still finds them."""
    await hub.join(room, _viewer(FakeWriter()))
    long_gift = json.dumps(
        {"type": "gift", "name": "x" * 300, "ranking": {"top": [], "coins": 1}, "seq": 9},
        separators=(",", ":"),
    )
    hub.deliver(room, [long_gift])
    assert hub.since(room, 8) == [long_gift]
