"""Realtime plumbing: the one broadcast helper, per-room sequence numbers, viewer counts,
combos and rate limits. Counters live in the cache (Redis when REDIS_URL is set), so they
hold across server processes. While Redis can't be reached, see outage.py for what each
caller does instead.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import redis.asyncio
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from .. import exceptions as errors
from . import adapters, hub
from .outage import REDIS_AWAY, UNAVAILABLE, away

_cache = adapters.shared_cache

COMBO_SECONDS = 5
logger = logging.getLogger(__name__)


def _incr(key: str, by: int = 1, *, timeout: int | None = None) -> int:
    """Add `by` to a counter in the cache, made (with `timeout`) on first use: one round trip
    once the counter exists."""
    for _ in range(3):
        try:
            return _cache().incr(key, by)
        except ValueError:  # missing (or just expired): make it, then count
            _cache().add(key, 0, timeout=timeout)
    raise RuntimeError(f"cache counter {key} keeps vanishing")


# Lua scripts live in livestreams/lua, one file each, loaded by name. A script's header
# names its keys and arguments (`--! keys: …`, `--! args: …`; a last name `...name` takes the
# rest as a list) and the libraries it includes (`--! uses: …`); the loader binds each name
# to a Lua local of the same name, and callers pass them by name (LuaScript.bind), so
# nothing counts KEYS or ARGV positions.
LUA_DIR = Path(__file__).parent.parent / "lua"


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str
    keys: tuple[str, ...]
    args: tuple[str, ...]

    def bind(self, **named) -> tuple[list, list]:
        """Keys and arguments by name, in the order Redis gives them to the script."""
        wanted = {name.removeprefix("...") for name in self.keys + self.args}
        if set(named) != wanted:
            raise TypeError(f"{self.name}.lua takes {sorted(wanted)}, not {sorted(named)}")
        return _positions(self.keys, named), _positions(self.args, named)


def _positions(names: tuple[str, ...], named: dict) -> list:
    out = []
    for name in names:
        if name.startswith("..."):
            out.extend(named[name[3:]])
        else:
            out.append(named[name])
    return out


def _lua_locals(table: str, names: tuple[str, ...]) -> str:
    lines = []
    for i, name in enumerate(names, start=1):
        if name.startswith("..."):
            rest = name[3:]
            lines.append(
                f"local {rest} = {{}} for i = {i}, #{table} do {rest}[#{rest} + 1] = {table}[i] end"
            )
        else:
            lines.append(f"local {name} = {table}[{i}]")
    return "\n".join(lines)


@functools.cache
def lua(name: str) -> LuaScript:
    """The script livestreams/lua/<name>.lua, its libraries first, its names bound."""
    text = (LUA_DIR / f"{name}.lua").read_text()
    header = dict(re.findall(r"^--! (\w+):[ \t]*(.*)$", text, flags=re.MULTILINE))
    keys, args = tuple(header.get("keys", "").split()), tuple(header.get("args", "").split())
    if any(n.startswith("...") for n in keys[:-1] + args[:-1]):
        raise ValueError(f"{name}.lua: only the last key or argument can take the rest")
    parts = [lua(library).source for library in header.get("uses", "").split()]
    parts += [_lua_locals("KEYS", keys), _lua_locals("ARGV", args), text]
    return LuaScript(name, "\n".join(part for part in parts if part), keys, args)


COUNT, BROADCAST, GIFT, SEED, RELABEL, PRESENCE = (
    lua(name) for name in ("count", "broadcast", "gift", "seed", "relabel", "presence")
)


def _count(*counters: tuple[str, int, int | None]) -> list[int]:
    """Add to cache counters, each (key, by, timeout on first use); their new values.

    On Redis (Django's RedisCache) one script call does them all; Django's own incr costs
    two round trips a counter, and a gift moves three. Elsewhere, one _incr each.
    """
    backend = _cache()
    if not isinstance(backend, RedisCache):
        return [_incr(key, by, timeout=timeout) for key, by, timeout in counters]
    return [int(value) for value in _script(backend, COUNT)(*_count_call(backend, counters))]


async def _acount(*counters: tuple[str, int, int | None]) -> list[int]:
    """_count for async code on Redis, awaited on the event loop's own Redis client."""
    backend = _cache()
    answer = await _ascript(backend, COUNT)(*_count_call(backend, counters))
    return [int(value) for value in answer]


def _count_call(backend: RedisCache, counters) -> tuple[list[str], list]:
    return COUNT.bind(
        counters=[backend.make_and_validate_key(key) for key, _, _ in counters],
        steps=[arg for _, by, timeout in counters for arg in (by, timeout or 0)],
    )


def _script(backend: RedisCache, lua: LuaScript):
    """A Lua script on `backend`'s Redis, called by its SHA (EVALSHA, loaded again by redis-py
    should Redis have lost it) as `script(keys, args)`. Made once per backend: Django's
    RedisCache builds a new client object on every call (about 170 µs of Python), and EVAL
    would send the source every time. Clients are thread-safe over their pool."""
    scripts = backend.__dict__.setdefault("_giftcast_scripts", {})
    script = scripts.get(lua.name)
    if script is None:
        client = adapters.redis_client(backend)
        script = scripts[lua.name] = client.register_script(lua.source)
    return script


ASYNC_REDIS_CONNECTIONS = 32
_aclients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> (client, scripts)


def _ascript(backend: RedisCache, lua: LuaScript):
    """_script for async code: the script on a redis.asyncio client of the running event
    loop's own (to the cache's server), awaited there with no hop to a worker thread."""
    client, scripts = _aclient(backend)
    script = scripts.get(lua.name)
    if script is None:
        script = scripts[lua.name] = client.register_script(lua.source)
    return script


def _aclient(backend: RedisCache):
    """The running event loop's redis.asyncio client to the cache's server, and its scripts."""
    loop = asyncio.get_running_loop()
    client, scripts = _aclients.get(loop) or (None, None)
    if client is None:
        # A bounded pool that makes callers wait their turn: a join storm awaits hundreds of
        # presence calls at once, and redis-py's default pool refuses past its limit.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            adapters.redis_url(backend), max_connections=ASYNC_REDIS_CONNECTIONS, timeout=20,
            **adapters.async_pool_options(),
        )  # fmt: skip
        client = redis.asyncio.Redis(connection_pool=pool)
        client, scripts = _aclients[loop] = (client, {})
    return client, scripts


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


class Gifter(NamedTuple):
    """A line of a room's board: a StreamGifter row's id, its running coin total, and how the
    gifter shows in rankings (selectors.ranking_label)."""

    id: int
    coins: int
    label: dict


RANKING_SIZE = 3  # gifters in the ranking each gift broadcasts
BOARD_SECONDS = 6 * 3600  # an untouched board is dropped, and rebuilt from the database on use


def _member(gifter_id: int) -> str:
    return f"{gifter_id:012d}"  # fixed width: ties sort by row id, as in the database


def _board_keys(backend: RedisCache, stream_id: int) -> list[str]:
    return [
        backend.make_and_validate_key(f"room:{stream_id}:{part}") for part in ("board", "labels")
    ]


def _ranking_of(answer: list) -> dict:
    """A gift frame's `ranking` from a board script's answer: total, then (score, label)
    pairs."""
    total, rest = int(answer[0]), answer[1:]
    top = [
        {**json.loads(rest[i + 1]), "coins": -int(float(rest[i]))} for i in range(0, len(rest), 2)
    ]
    return {"top": top, "coins": total}


def broadcast_gift(stream_id: int, gift: dict, *, sender_id: int, slug: str, quantity: int,
                   gifter: Gifter, gifters: Callable[[], list[Gifter]],
                   ranking: Callable[[], tuple[list[dict], int]]) -> list[dict]:  # fmt: skip
    """`broadcast` for a committed gift: one frame, with the room's new ranking in it.

    The gift gets its `combo` (this fan's streak of this gift; a pause of COMBO_SECONDS ends
    it) and `ranking` (the top RANKING_SIZE gifters and the room's coin total). `gifter` is
    the sender's new running total in the stream; `gifters` reads every gifter of the stream
    from the database, `ranking` the top and the total. On Redis, one script call counts
    combo and seq, updates the room's board, which answers with the top and total, and
    publishes the frame (see livestreams/lua/publish.lua); `gifters` is read only to rebuild a board that is
    not all there. Elsewhere (one process, no Redis) `ranking` is read each time. Returns
    the frame as sent, in a list as `broadcast` does.
    """
    backend = _cache()
    if not isinstance(backend, RedisCache):
        combo, last = _count(
            (f"room:{stream_id}:combo:{sender_id}:{slug}", quantity, COMBO_SECONDS),
            (f"room:{stream_id}:seq", 1, None),
        )
        top, total = ranking()
        return _send(
            stream_id, [{**gift, "combo": combo, "ranking": {"top": top, "coins": total}}], last
        )
    named = _gift_call(backend, stream_id, gift, sender_id, slug, quantity, gifter)
    try:
        if stream_id in _boards_stale:
            adapters.redis_client(backend).delete(named["board"], named["labels"])
            _boards_stale.discard(stream_id)
        answer = _script(backend, GIFT)(*GIFT.bind(**named))
        if len(answer) == 2:  # the board is not all there: rebuilt from the database
            answer += _script(backend, SEED)(*_seed_call(named, answer, gifters()))
    except REDIS_AWAY as exc:
        return [_gift_unsent(stream_id, gift, exc)]
    return [_gift_frame(gift, answer)]  # the script published it


async def abroadcast_gift(stream_id: int, gift: dict, *, sender_id: int, slug: str, quantity: int,
                          gifter: Gifter, gifters: Callable[[], list[Gifter]]) -> list[dict]:  # fmt: skip
    """broadcast_gift for async code, on Redis only (boards_kept()): the same scripts,
    awaited on the event loop. `gifters`, read only to rebuild a board, runs on a worker
    thread (it reads the database)."""
    backend = _cache()
    named = _gift_call(backend, stream_id, gift, sender_id, slug, quantity, gifter)
    try:
        if stream_id in _boards_stale:
            await _aclient(backend)[0].delete(named["board"], named["labels"])
            _boards_stale.discard(stream_id)
        answer = await _ascript(backend, GIFT)(*GIFT.bind(**named))
        if len(answer) == 2:
            rows = await database_sync_to_async(gifters, thread_sensitive=False)()
            answer += await _ascript(backend, SEED)(*_seed_call(named, answer, rows))
    except REDIS_AWAY as exc:
        return [_gift_unsent(stream_id, gift, exc)]
    return [_gift_frame(gift, answer)]  # the script published it


# Rooms whose board missed a committed gift (its broadcast found Redis away): the board is
# dropped before this process's next gift there, which then rebuilds it from the database.
_boards_stale: set[int] = set()


def _gift_unsent(stream_id: int, gift: dict, exc: Exception) -> dict:
    """A committed gift whose frame could not be sent (Redis went away after its rate limit
    was counted): the sender is still told it went (the service returns as usual); the room's
    viewers, whose feed was down too, resync when the hub's subscription is back (hub), and
    the board is rebuilt. The frame comes back without combo or ranking: neither is known."""
    _boards_stale.add(stream_id)
    logger.warning(
        "room %s: gift %s committed, its frame not sent: Redis unreachable (%s); the room "
        "resyncs when Redis is back", stream_id, gift.get("id"), exc,
    )  # fmt: skip
    return {**gift, "combo": None, "ranking": None}


def _gift_call(backend: RedisCache, stream_id: int, gift: dict, sender_id: int, slug: str,
               quantity: int, gifter: Gifter) -> dict:  # fmt: skip
    """The gift script's keys and arguments, by name (livestreams/lua/gift.lua)."""
    board, labels = _board_keys(backend, stream_id)
    return {
        "combo_key": backend.make_and_validate_key(f"room:{stream_id}:combo:{sender_id}:{slug}"),
        "seq_key": backend.make_and_validate_key(f"room:{stream_id}:seq"),
        "board": board, "labels": labels,
        "step": quantity, "combo_ttl": COMBO_SECONDS, "member": _member(gifter.id),
        "coins": gifter.coins, "label": _encode(gifter.label), "size": RANKING_SIZE,
        "ttl": BOARD_SECONDS, "frame": _encode(gift), "channel": room_channel(stream_id),
    }  # fmt: skip


def _seed_call(named: dict, answer: list, gifters: list[Gifter]) -> tuple[list, list]:
    """The rebuild script's keys and arguments, after the gift script answered {combo, seq}."""
    combo, seq = answer
    rows = [a for g in gifters for a in (_member(g.id), g.coins, _encode(g.label))]
    return SEED.bind(
        board=named["board"], labels=named["labels"], size=named["size"], ttl=named["ttl"],
        channel=named["channel"], frame=named["frame"], combo=combo, seq=seq, gifters=rows,
    )  # fmt: skip


def _gift_frame(gift: dict, answer: list) -> dict:
    """The gift's frame from the scripts' answer: combo, seq, then the board's total and top."""
    combo, seq = int(answer[0]), int(answer[1])
    return {**gift, "combo": combo, "seq": seq, "ranking": _ranking_of(answer[2:])}


def boards_kept() -> bool:
    """Whether rooms keep a live board (on Redis) that broadcast_gift reads rankings from."""
    return isinstance(_cache(), RedisCache)


def board_relabel(stream_id: int, gifter_id: int, label: dict) -> None:
    """A gifter's label changed: their line on the room's board (if it has one) shows it
    (while Redis is away, once the board is rebuilt at the room's next gift)."""
    backend = _cache()
    if isinstance(backend, RedisCache):
        _, labels = _board_keys(backend, stream_id)
        call = RELABEL.bind(labels=labels, member=_member(gifter_id), label=_encode(label))
        try:
            _script(backend, RELABEL)(*call)
        except REDIS_AWAY as exc:
            _boards_stale.add(stream_id)
            away("gifter labels left for the boards' rebuild", exc)


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


def rate_limited(scope: str, who: int | str, spec: str) -> bool:
    """True when `who` (a user id, or another identity such as "ip:…") has used up `spec`
    ("count/seconds") in the current window. While Redis can't be reached nothing is let
    through uncounted: RoomError `unavailable` (a gift or chat line refused before anything
    is written)."""
    counter, count = _rate_counter(scope, who, spec)
    try:
        return _count(counter)[0] > count
    except REDIS_AWAY as exc:
        raise _unavailable(scope, exc) from exc


async def arate_limited(scope: str, who: int | str, spec: str) -> bool:
    """rate_limited for async code, on Redis (boards_kept())."""
    counter, count = _rate_counter(scope, who, spec)
    try:
        return (await _acount(counter))[0] > count
    except REDIS_AWAY as exc:
        raise _unavailable(scope, exc) from exc


def _unavailable(scope: str, exc: Exception) -> errors.RoomError:
    away(f"{scope} refused, its rate limit can't be counted", exc)
    return errors.error(UNAVAILABLE)


async def arate_wait(scope: str, who: int | str, spec: str) -> int:
    """For async code on any backend: 0 when `who` may go on under `spec`, else the whole
    seconds until the window ends (counted on Redis when the rooms are there, else in the
    process's own cache, which costs no wait)."""
    counter, count = _rate_counter(scope, who, spec)
    used = (await _acount(counter))[0] if boards_kept() else _count(counter)[0]
    if used <= count:
        return 0
    seconds = int(spec.split("/")[1])
    return max(1, math.ceil(seconds - time.time() % seconds))


def _rate_counter(scope: str, who: int | str, spec: str) -> tuple[tuple[str, int, int], int]:
    count, seconds = (int(part) for part in spec.split("/"))
    window = int(time.time() // seconds)
    return (f"rl:{scope}:{who}:{window}", 1, seconds * 2), count


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
    except REDIS_AWAY:
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
    except REDIS_AWAY:
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
