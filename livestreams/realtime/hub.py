"""One process's rooms: each room event reaches the process once and is written to every one
of the process's viewers of that room from here, as the text encoded once.

On Redis the room scripts publish each room's frames on the room's channel (room_channel),
and the process holds one subscription per room it has viewers in, on one connection of its
own; without Redis (one process) broadcast hands the frames to the hub on the event loop.
Either way deliver() runs once per room event, not once per viewer: no channel-layer
message, queue or coroutine wake-up per viewer.

Each viewer has a bounded backlog. A viewer that keeps up gets every frame, in `seq` order.
A viewer whose connection stops draining (its server buffer full: daphne, see adapters) has
its frames held, up to BACKLOG; past that the backlog is dropped and, once the connection
drains, the viewer gets one `resync` frame and rebuilds from `state` (docs/protocol.md). So
a slow viewer never slows the room, memory stays bounded, and nothing is dropped unsaid.

The subscription outlives a Redis outage: redis-py reconnects it and subscribes again to
every channel it held, and once it answers again every viewer of the process gets a `resync`
(frames published meanwhile never reached them, and a Redis that restarted empty counts each
room's seq from 0 again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache

from . import adapters
from .outage import REDIS_AWAY, away

_cache = adapters.shared_cache

logger = logging.getLogger(__name__)

BACKLOG = 512  # frames held for a viewer whose connection is not draining
RESYNC = json.dumps({"type": "resync", "reason": "behind"}, separators=(",", ":"))


class Viewer:
    """One connection in a room: its handle (for bans), and how its frames are written."""

    __slots__ = ("send", "handle", "on_ban", "writer", "backlog", "behind", "task", "closed",
                 "started")  # fmt: skip

    def __init__(self, send, handle: str | None, on_ban):
        self.send = send
        self.handle = handle
        self.on_ban = on_ban  # coroutine function: the viewer was banned (after the frame)
        self.writer = adapters.direct_writer(send, self._resumed)
        self.backlog: deque[str] = deque()
        self.behind = False
        self.task: asyncio.Task | None = None
        self.closed = False
        self.started = False  # frames are held until the viewer has the room's state

    def start(self, frames: list[str] | None = None) -> None:
        """The viewer has the room's state: `frames` (the room's since the state's `seq`,
        hub.since) go now, in place of what was held meanwhile, then the rest as it comes."""
        self.started = True
        if frames is not None:
            self.backlog = deque(frames)
        if self.writer is not None:
            self._resumed()
        elif self.backlog or self.behind:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    def hold(self) -> None:
        """Hold the room's frames until start() again (the viewer's state is being read)."""
        self.started = False

    def resync(self) -> None:
        """Frames may have been lost on their way to this process: the viewer is told to
        rebuild from the state, as one that fell behind is (a viewer still reading its state
        gets it after the frames start() is given)."""
        if self.closed:
            return
        self.backlog.clear()
        self.behind = True
        stats["resyncs"] += 1
        if not self.started:
            return
        if self.writer is not None:
            self._resumed()
        elif self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def drained(self) -> None:
        """Until what was handed to `send` for this viewer has been sent."""
        if self.task is not None and not self.task.done():
            await asyncio.shield(self.task)

    def offer(self, texts: list[str], payloads: list) -> None:
        """The room's frames, on the event loop: written now when the connection can take
        them, else held (bounded)."""
        if self.closed:
            return
        writer = self.writer
        if (writer is not None and self.started and not writer.paused and not self.backlog
                and not self.behind):  # fmt: skip
            if writer.open:
                for payload in payloads:
                    writer.write(payload)
            return
        if self.behind:
            return
        if len(self.backlog) + len(texts) > BACKLOG:
            self.backlog.clear()
            self.behind = True
            stats["resyncs"] += 1
        else:
            self.backlog.extend(texts)
        if writer is None and self.started and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self._drain())

    def _resumed(self) -> None:
        """The connection drained (daphne): what was held goes now."""
        if self.closed or not self.started or not self.writer.open:
            return
        while self.backlog and not self.writer.paused:
            self.writer.write(adapters.prepare(self.backlog.popleft().encode()))
        if self.behind and not self.backlog and not self.writer.paused:
            self.behind = False
            self.writer.write(adapters.prepare(RESYNC.encode()))

    async def _drain(self) -> None:
        """Servers this module can't write to directly: through ASGI `send`, in order; a
        server whose `send` waits for the connection to drain lets the backlog fill."""
        try:
            while self.backlog and not self.closed:
                await self.send({"type": "websocket.send", "text": self.backlog.popleft()})
            if self.behind and not self.closed:
                self.behind = False
                await self.send({"type": "websocket.send", "text": RESYNC})
        except Exception:  # the connection went away: its consumer leaves the room
            self.closed = True

    def close(self) -> None:
        self.closed = True
        self.backlog.clear()
        if self.writer is not None:
            self.writer.close()


stats = {"events": 0, "writes": 0, "resyncs": 0}
STATE_SECONDS = 2.0  # a room's state read for one joining viewer serves the next ones this long
RECENT = 256  # frames a room keeps, to bring a joining viewer from that state to now
_SEQ = re.compile(r'"seq":(\d+)')


class Room:
    """This process's viewers of one room, the room's last frames (seq, text) and the
    room's state as last read (shared by every viewer joining within STATE_SECONDS: the
    frames since its `seq` bring each of them up to date)."""

    __slots__ = ("viewers", "recent", "state", "state_at")

    def __init__(self):
        self.viewers: set[Viewer] = set()
        self.recent: deque[tuple[int, str]] = deque(maxlen=RECENT)
        self.state: dict | None = None
        self.state_at = 0.0


_rooms: dict[int, Room] = {}
_subscriber: _Subscriber | None = None


async def join(stream_id: int, viewer: Viewer) -> None:
    """On the event loop: `viewer` gets the room's frames from now on (on Redis, once the
    room's subscription is in place: call before reading the room's state). Raises one of
    REDIS_AWAY, leaving the viewer out, when the subscription can't be made."""
    room = _rooms.get(stream_id)
    if room is None:
        room = _rooms[stream_id] = Room()
    room.viewers.add(viewer)
    if len(room.viewers) == 1 and isinstance(_cache(), RedisCache):
        try:
            await _subscriber_get().subscribe(stream_id)
        except BaseException:
            room.viewers.discard(viewer)
            if not room.viewers and _rooms.get(stream_id) is room:
                del _rooms[stream_id]
            raise


async def leave(stream_id: int, viewer: Viewer) -> None:
    viewer.close()
    room = _rooms.get(stream_id)
    if room is None:
        return
    room.viewers.discard(viewer)
    if not room.viewers:
        del _rooms[stream_id]
        if _subscriber is not None:
            await _subscriber.unsubscribe(stream_id)


def state_held(stream_id: int) -> dict | None:
    """The room's state as this process last read it, if read in the last STATE_SECONDS
    while the process held the room (so it has every frame since): the parts every viewer
    shares (no `viewers`, no `balance`)."""
    room = _rooms.get(stream_id)
    if room is None or room.state is None or time.monotonic() - room.state_at > STATE_SECONDS:
        return None
    return room.state


def state_keep(stream_id: int, state: dict, read_at: float) -> None:
    """Remember the room's shared state, read (by a viewer already in the room) at
    `read_at` (time.monotonic())."""
    room = _rooms.get(stream_id)
    if room is not None and read_at >= room.state_at:
        room.state, room.state_at = state, read_at


def since(stream_id: int, seq: int) -> list[str] | None:
    """The room's frames after `seq`, in order; None if this process no longer has them
    all (the viewer then finds a gap and asks for the state again)."""
    room = _rooms.get(stream_id)
    if room is None:
        return []
    frames = [text for number, text in room.recent if number > seq]
    if room.recent and frames and room.recent[0][0] > seq + 1 and len(room.recent) == RECENT:
        return None
    return frames


def viewers_here(stream_id: int) -> int:
    """How many of the room's viewers this process holds."""
    room = _rooms.get(stream_id)
    return len(room.viewers) if room else 0


def deliver(stream_id: int, texts: list[str]) -> None:
    """On the event loop: a room event (one or more frames, in `seq` order) to each of this
    process's viewers of the room."""
    room = _rooms.get(stream_id)
    stats["events"] += 1
    if not room:
        return
    for text in texts:
        found = _SEQ.search(text)  # (nested objects carry no seq; text inside is escaped)
        room.recent.append((int(found.group(1)) if found else 0, text))
        if text.startswith('{"seq"') and '"stream.ended"' in text:
            room.state = None  # its status changed
    payloads = [adapters.prepare(text.encode()) for text in texts]
    viewers = list(room.viewers)
    for viewer in viewers:
        viewer.offer(texts, payloads)
    stats["writes"] += len(viewers) * len(texts)
    if any('"moderation"' in text for text in texts):  # only then worth parsing
        _bans(room.viewers, texts)


def _bans(room: set[Viewer], texts: list[str]) -> None:
    """A viewer who is banned gets the ban frame, then is let go."""
    for text in texts:
        event = json.loads(text)
        if event.get("type") != "moderation" or event.get("action") != "ban":
            continue
        handle = event["user"]["handle"]
        for viewer in list(room):
            if viewer.handle == handle:
                asyncio.get_running_loop().create_task(viewer.on_ban())


async def adeliver(stream_id: int, texts: list[str]) -> None:
    """deliver, for realtime.events._run (sync code hands the frames to the loop this way)."""
    deliver(stream_id, texts)


# ----------------------------------------------------------------------------- Redis


def room_channel(stream_id: int) -> str:
    """The Redis channel the room scripts publish a room's frames on. Channels are shared
    by every database of a Redis server: the cache's database and key prefix are in it."""
    backend = _cache()
    database = urlsplit(adapters.redis_url(backend)).path.strip("/") or "0"
    return f"giftcast:{database}" + backend.make_and_validate_key(f"room-frames:{stream_id}")


RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # seconds between tries of a lost subscription (doubling)


class _Subscriber:
    """The process's one subscription connection; a task reads it and delivers."""

    def __init__(self):
        import redis.asyncio

        backend = _cache()
        # The cache's timeouts (REDIS_TIMEOUT) for connecting and each answer; waiting for
        # the rooms' frames (get_message) has its own.
        self.client = redis.asyncio.Redis.from_url(adapters.redis_url(backend),
                                                   **adapters.async_pool_options())  # fmt: skip
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.channels: dict[bytes, int] = {}
        self.task: asyncio.Task | None = None
        self.loop = asyncio.get_running_loop()

    async def subscribe(self, stream_id: int) -> None:
        channel = room_channel(stream_id)
        self.channels[channel.encode()] = stream_id
        try:
            await self.pubsub.subscribe(channel)
        except BaseException:
            self.channels.pop(channel.encode(), None)
            raise
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._read(), name="giftcast-rooms")

    async def unsubscribe(self, stream_id: int) -> None:
        channel = room_channel(stream_id)
        self.channels.pop(channel.encode(), None)
        try:
            await self.pubsub.unsubscribe(channel)
        except REDIS_AWAY as exc:  # dropped once the subscription is back (_recovered)
            away("a room's subscription left for later", exc)

    async def _read(self) -> None:
        wait, lost = RETRY_FIRST, False
        while True:
            try:
                message = await self.pubsub.get_message(timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: redis-py reconnects and resubscribes
                if not isinstance(exc, REDIS_AWAY):
                    logger.exception("room subscription failed; retrying")
                elif not lost:
                    logger.warning("room subscription lost (%s); retrying", exc)
                lost = True
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_MAX)
                continue
            if lost:
                wait, lost = RETRY_FIRST, False
                await self._recovered()
            if message is None:
                if not self.channels:
                    return
                continue
            stream_id = self.channels.get(message["channel"])
            if stream_id is not None and message["type"] == "message":
                try:
                    deliver(stream_id, json.loads(message["data"])["frames"])
                except Exception:  # one bad event must not stop the room
                    logger.exception("room event not delivered")

    async def _recovered(self) -> None:
        """The subscription answers again (redis-py subscribed again to every channel it
        held): the channels of rooms left meanwhile are dropped, and every viewer here is told
        to resync, each room's held state and recent frames forgotten (they may be from before
        a Redis that restarted empty, with its seq counted from 0 again)."""
        left = [channel for channel in self.pubsub.channels if channel not in self.channels]
        if left:
            try:
                await self.pubsub.unsubscribe(*left)
            except REDIS_AWAY as exc:
                away("a room's subscription left for later", exc)
        rooms = [_rooms[pk] for pk in set(self.channels.values()) if pk in _rooms]
        for room in rooms:
            room.state, room.recent = None, deque(maxlen=RECENT)
            for viewer in list(room.viewers):
                viewer.resync()
        viewers = sum(len(room.viewers) for room in rooms)
        logger.warning("room subscription back: %d rooms, %d viewers resync", len(rooms), viewers)


def _subscriber_get() -> _Subscriber:
    global _subscriber
    loop = asyncio.get_running_loop()
    if _subscriber is None or _subscriber.loop is not loop or _subscriber.loop.is_closed():
        _subscriber = _Subscriber()
    return _subscriber
