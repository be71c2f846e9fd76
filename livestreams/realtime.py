"""Realtime plumbing: the one broadcast helper, per-room sequence numbers, viewer counts,
combos and rate limits. Counters live in the cache (Redis when REDIS_URL is set), so they
hold across server processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import NamedTuple

import redis.asyncio
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
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
    return [
        int(value) for value in _script(backend, _COUNT_SCRIPT)(*_count_call(backend, counters))
    ]


async def _acount(*counters: tuple[str, int, int | None]) -> list[int]:
    """_count for async code on Redis, awaited on the event loop's own Redis client."""
    backend = caches["default"]
    answer = await _ascript(backend, _COUNT_SCRIPT)(*_count_call(backend, counters))
    return [int(value) for value in answer]


def _count_call(backend: RedisCache, counters) -> tuple[list[str], list]:
    keys = [backend.make_and_validate_key(key) for key, _, _ in counters]
    return keys, [arg for _, by, timeout in counters for arg in (by, timeout or 0)]


def _script(backend: RedisCache, source: str):
    """A Lua script on `backend`'s Redis, called by its SHA (EVALSHA, loaded again by redis-py
    should Redis have lost it) as `script(keys, args)`. Made once per backend: Django's
    RedisCache builds a new client object on every call (about 170 µs of Python), and EVAL
    would send the source every time. Clients are thread-safe over their pool."""
    scripts = backend.__dict__.setdefault("_giftcast_scripts", {})
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = backend._cache.get_client(write=True).register_script(source)
    return script


_aclients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> (client, scripts)


def _ascript(backend: RedisCache, source: str):
    """_script for async code: the script on a redis.asyncio client of the running event
    loop's own (to the cache's server), awaited there with no hop to a worker thread."""
    loop = asyncio.get_running_loop()
    client, scripts = _aclients.get(loop) or (None, None)
    if client is None:
        client = redis.asyncio.Redis.from_url(backend._servers[0])
        client, scripts = _aclients[loop] = (client, {})
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = client.register_script(source)
    return script


def current_seq(stream_id: int) -> int:
    return cache.get(f"room:{stream_id}:seq", 0)


# Publishing from the scripts. With the channel layer on the cache's Redis (settings: one
# host, the same server, JSON messages), a script that stamps `seq` numbers also publishes
# the frames, in the channel layer's own message format: numbering and sending are one step,
# so a room's frames go out in `seq` order whichever process sent them, and the send costs
# no round trip or event-loop turn of its own. Frames arrive as JSON objects and fields are
# put in front of their text, so nothing is parsed or re-encoded here; the message carries
# each frame as the text every viewer is sent (see _send).
_PUBLISH_LUA = """
local function stamp(json, fields)
  return '{' .. fields .. ',' .. string.sub(json, 2)
end
local function publish(channel, frames)
  if channel ~= '' then
    for i = 1, #frames do frames[i] = cjson.encode(frames[i]) end
    redis.call('PUBLISH', channel, '{"type":"room.events","frames":[' .. table.concat(frames, ',') .. ']}')
  end
end
"""
# KEYS[1] the room's seq; ARGV[1] the channel, then the frames. The last seq number back.
_BROADCAST_SCRIPT = (
    _PUBLISH_LUA
    + """
local n = #ARGV - 1
local last = redis.call('INCRBY', KEYS[1], n)
local frames = {}
for i = 1, n do frames[i] = stamp(ARGV[i + 1], '"seq":' .. (last - n + i)) end
publish(ARGV[1], frames)
return last
"""
)


def _channel(stream_id: int) -> str:
    """The channel-layer channel the scripts publish a room's frames to, or "" when the
    layer is not one they can publish to (then _send does, from Python)."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    config = layer.get("CONFIG", {})
    hosts = config.get("hosts", [])
    if (
        layer.get("BACKEND") != "channels_redis.pubsub.RedisPubSubChannelLayer"
        or config.get("serializer_format") != "json"
        or config.get("symmetric_encryption_keys")
        or len(hosts) != 1
    ):
        return ""
    address = hosts[0].get("address") if isinstance(hosts[0], dict) else hosts[0]
    if address != settings.CACHES["default"].get("LOCATION"):
        return ""
    # channels_redis' name for a group's channel (RedisPubSubLoopLayer._get_group_channel_name)
    return f"{config.get('prefix', 'asgi')}__group__{group_name(stream_id)}"


def _encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


def broadcast(stream_id: int, *events: dict) -> list[dict]:
    """Stamp the room's next `seq` numbers on `events` and send them, in order, to everyone in
    the room. Returns the stamped events. The one way anything reaches a room."""
    backend = caches["default"]
    channel = _channel(stream_id) if isinstance(backend, RedisCache) else ""
    if not channel:
        (last,) = _count((f"room:{stream_id}:seq", len(events), None))
        return _send(stream_id, events, last)
    seq_key = backend.make_and_validate_key(f"room:{stream_id}:seq")
    last = int(_script(backend, _BROADCAST_SCRIPT)([seq_key], [channel, *map(_encode, events)]))
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

# The room's board on Redis: a sorted set of gifter row ids scored by minus their running
# total (so ZRANGE gives the most coins first and, on a tie, the oldest row, as the
# database's ranking does) and a hash of their labels plus '#total' (the sum of every score)
# and '#seeded' (the board holds every gifter of the room). Totals only grow, so a line
# takes the larger of what it had and what it is given: updates may land in any order, and
# a rebuild from the database never takes a newer total back.
_BOARD_LUA = (
    _PUBLISH_LUA
    + """
local function apply(board, labels, member, coins, label)
  local old = redis.call('ZSCORE', board, member)
  old = old and -tonumber(old) or 0
  if coins > old then
    redis.call('ZADD', board, -coins, member)
    redis.call('HINCRBY', labels, '#total', coins - old)
  end
  redis.call('HSET', labels, member, label)
end
local function gift_frame(gift, combo, seq, answer)
  local lines = {}
  for i = 2, #answer, 2 do
    local coins = string.sub(answer[i], 1, 1) == '-' and string.sub(answer[i], 2) or answer[i]
    lines[#lines + 1] = stamp(answer[i + 1], '"coins":' .. coins)
  end
  local ranking = '{"top":[' .. table.concat(lines, ',') .. '],"coins":' .. answer[1] .. '}'
  return stamp(gift, '"combo":' .. combo .. ',"seq":' .. seq .. ',"ranking":' .. ranking)
end
local function top(board, labels, size, ttl)
  redis.call('EXPIRE', board, ttl)
  redis.call('EXPIRE', labels, ttl)
  local rows = redis.call('ZRANGE', board, 0, size - 1, 'WITHSCORES')
  local out = {redis.call('HGET', labels, '#total') or '0'}
  for i = 1, #rows, 2 do
    out[#out + 1] = rows[i + 1]
    -- (a label lost on its own would show as Anonymous, never as someone else)
    out[#out + 1] = redis.call('HGET', labels, rows[i]) or '{"handle":null,"name":"Anonymous","anonymous":true}'
  end
  return out
end
"""
)
# One gift: combo and seq counted, the sender's line updated, the gift frame (ARGV[8]) with
# the room's new ranking published (ARGV[9]: the channel), the new top and total back; or,
# when the room's board is not all there (new, expired or evicted), {combo, seq} alone and
# nothing sent: the rebuild below sends.
_GIFT_SCRIPT = (
    _BOARD_LUA
    + """
local combo = redis.call('INCRBY', KEYS[1], ARGV[1])
if combo == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local seq = redis.call('INCRBY', KEYS[2], 1)
apply(KEYS[3], KEYS[4], ARGV[3], tonumber(ARGV[4]), ARGV[5])
if redis.call('HEXISTS', KEYS[4], '#seeded') == 0 then
  redis.call('EXPIRE', KEYS[3], ARGV[7])
  redis.call('EXPIRE', KEYS[4], ARGV[7])
  return {combo, seq}
end
local out = top(KEYS[3], KEYS[4], tonumber(ARGV[6]), ARGV[7])
publish(ARGV[9], {gift_frame(ARGV[8], combo, seq, out)})
table.insert(out, 1, seq)
table.insert(out, 1, combo)
return out
"""
)
# A rebuild: every gifter of the room from the database (ARGV[7..] in threes), the total
# recounted from the scores, the board marked whole; the gift's frame (ARGV[4], with combo
# ARGV[5] and seq ARGV[6]) published on ARGV[3]; the new top and total back.
_SEED_SCRIPT = (
    _BOARD_LUA
    + """
for i = 7, #ARGV, 3 do apply(KEYS[1], KEYS[2], ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]) end
local sum = 0
local scores = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 2, #scores, 2 do sum = sum - tonumber(scores[i]) end
redis.call('HSET', KEYS[2], '#total', sum, '#seeded', 1)
local out = top(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2])
publish(ARGV[3], {gift_frame(ARGV[4], ARGV[5], ARGV[6], out)})
return out
"""
)
# A gifter's label changed (name, or they left the rankings): only on a board that exists.
_RELABEL_SCRIPT = """
if redis.call('HEXISTS', KEYS[1], '#seeded') == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
"""


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
    publishes the frame (see _PUBLISH_LUA); `gifters` is read only to rebuild a board that is
    not all there. Elsewhere (one process, no Redis) `ranking` is read each time. Returns
    the frame as sent, in a list as `broadcast` does.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        combo, last = _count(
            (f"room:{stream_id}:combo:{sender_id}:{slug}", quantity, COMBO_SECONDS),
            (f"room:{stream_id}:seq", 1, None),
        )
        top, total = ranking()
        return _send(
            stream_id, [{**gift, "combo": combo, "ranking": {"top": top, "coins": total}}], last
        )
    keys, args = _gift_call(backend, stream_id, gift, sender_id, slug, quantity, gifter)
    answer = _script(backend, _GIFT_SCRIPT)(keys, args)
    if len(answer) == 2:  # the board is not all there: rebuilt from the database
        answer += _script(backend, _SEED_SCRIPT)(keys[2:], _seed_args(args, answer, gifters()))
    frame = _gift_frame(gift, answer)
    if args[-1]:  # the script published it
        return [frame]
    return _send(stream_id, [frame], frame.pop("seq"))


async def abroadcast_gift(stream_id: int, gift: dict, *, sender_id: int, slug: str, quantity: int,
                          gifter: Gifter, gifters: Callable[[], list[Gifter]]) -> list[dict]:  # fmt: skip
    """broadcast_gift for async code, on Redis only (boards_kept()): the same scripts,
    awaited on the event loop. `gifters`, read only to rebuild a board, runs on a worker
    thread (it reads the database)."""
    backend = caches["default"]
    keys, args = _gift_call(backend, stream_id, gift, sender_id, slug, quantity, gifter)
    answer = await _ascript(backend, _GIFT_SCRIPT)(keys, args)
    if len(answer) == 2:
        rows = await database_sync_to_async(gifters, thread_sensitive=False)()
        answer += await _ascript(backend, _SEED_SCRIPT)(keys[2:], _seed_args(args, answer, rows))
    frame = _gift_frame(gift, answer)
    if not args[-1]:  # a channel layer the script can't publish to: sent from here
        await _group_send(group_name(stream_id), _message([frame]))
    return [frame]


def _gift_call(backend: RedisCache, stream_id: int, gift: dict, sender_id: int, slug: str,
               quantity: int, gifter: Gifter) -> tuple[list[str], list]:  # fmt: skip
    """The gift script's keys and arguments (the last: the channel it publishes to, or "")."""
    keys = [
        backend.make_and_validate_key(f"room:{stream_id}:combo:{sender_id}:{slug}"),
        backend.make_and_validate_key(f"room:{stream_id}:seq"),
        *_board_keys(backend, stream_id),
    ]
    args = [
        quantity, COMBO_SECONDS, _member(gifter.id), gifter.coins, _encode(gifter.label),
        RANKING_SIZE, BOARD_SECONDS, _encode(gift), _channel(stream_id),
    ]  # fmt: skip
    return keys, args


def _seed_args(gift_args: list, answer: list, gifters: list[Gifter]) -> list:
    """The rebuild script's arguments, after a gift script answered {combo, seq} alone."""
    rows = [a for g in gifters for a in (_member(g.id), g.coins, _encode(g.label))]
    return [RANKING_SIZE, BOARD_SECONDS, gift_args[-1], gift_args[-2], *answer, *rows]


def _gift_frame(gift: dict, answer: list) -> dict:
    """The gift's frame from the scripts' answer: combo, seq, then the board's total and top."""
    combo, seq = int(answer[0]), int(answer[1])
    return {**gift, "combo": combo, "seq": seq, "ranking": _ranking_of(answer[2:])}


def boards_kept() -> bool:
    """Whether rooms keep a live board (on Redis) that broadcast_gift reads rankings from."""
    return isinstance(caches["default"], RedisCache)


def board_relabel(stream_id: int, gifter_id: int, label: dict) -> None:
    """A gifter's label changed: their line on the room's board (if it has one) shows it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        _, labels = _board_keys(backend, stream_id)
        _script(backend, _RELABEL_SCRIPT)([labels], [_member(gifter_id), _encode(label)])


def _send(stream_id: int, events, last: int) -> list[dict]:
    first = last - len(events) + 1
    stamped = [{**event, "seq": first + i} for i, event in enumerate(events)]
    # One channel-layer message per broadcast, however many frames: one publish on Redis.
    _run(_group_send, group_name(stream_id), _message(stamped))
    return stamped


def _message(stamped: list[dict]) -> dict:
    """The channel-layer message taking frames to a room (RoomConsumer.room_events): each
    frame as its text, encoded once here rather than once for every viewer."""
    return {"type": "room.events", "frames": [_encode(event) for event in stamped]}


async def _group_send(group: str, message: dict) -> None:
    await get_channel_layer().group_send(group, message)


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


def rate_limited(scope: str, user_id: int, spec: str) -> bool:
    """True when `user_id` has used up `spec` ("count/seconds") in the current window."""
    counter, count = _rate_counter(scope, user_id, spec)
    return _count(counter)[0] > count


async def arate_limited(scope: str, user_id: int, spec: str) -> bool:
    """rate_limited for async code, on Redis (boards_kept())."""
    counter, count = _rate_counter(scope, user_id, spec)
    return (await _acount(counter))[0] > count


def _rate_counter(scope: str, user_id: int, spec: str) -> tuple[tuple[str, int, int], int]:
    count, seconds = (int(part) for part in spec.split("/"))
    window = int(time.time() // seconds)
    return (f"rl:{scope}:{user_id}:{window}", 1, seconds * 2), count


# Viewers. On Redis a room's viewers are its open connections, in a sorted set scored by
# when their process last vouched for them: every PRESENCE_BEAT seconds each process renews
# the connections it holds, and a connection not renewed for PRESENCE_SECONDS no longer
# counts. So a process that dies (killed, out of memory, a lost machine) takes its viewers
# with it within a minute, instead of leaving them counted for good. Without Redis (one
# process) the count is a counter in the process's own memory, which dies with it.
PRESENCE_SECONDS = 60
PRESENCE_BEAT = 20
# KEYS[1] the room's set; ARGV[1] now, ARGV[2] 'join' or 'leave', then the connections.
# Drops connections not renewed in time; the room's viewer count back.
_PRESENCE_SCRIPT = """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[3])
for i = 4, #ARGV do
  if ARGV[2] == 'join' then redis.call('ZADD', KEYS[1], now, ARGV[i]) else redis.call('ZREM', KEYS[1], ARGV[i]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('EXPIRE', KEYS[1], ttl)
return redis.call('ZCARD', KEYS[1])
"""
_present: dict[int, set[str]] = {}  # this process's connections, by room
_present_lock = threading.Lock()


def _presence(backend: RedisCache, stream_id: int, action: str, connections) -> int:
    key = backend.make_and_validate_key(f"room:{stream_id}:present")
    args = [time.time(), action, PRESENCE_SECONDS, *connections]
    return int(_script(backend, _PRESENCE_SCRIPT)([key], args))


def viewers_join(stream_id: int, connection: str) -> int:
    """`connection` (a websocket's channel name) is watching the room; the room's count."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return _count((f"room:{stream_id}:viewers", 1, None))[0]
    with _present_lock:
        _present.setdefault(stream_id, set()).add(connection)
        _presence_beat_start()
    return _presence(backend, stream_id, "join", [connection])


def viewers_leave(stream_id: int, connection: str) -> int:
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        try:
            return max(cache.decr(f"room:{stream_id}:viewers"), 0)
        except ValueError:
            return 0
    with _present_lock:
        room = _present.get(stream_id, set())
        room.discard(connection)
        if not room:
            _present.pop(stream_id, None)
    return _presence(backend, stream_id, "leave", [connection])


def viewers(stream_id: int) -> int:
    return viewers_of([stream_id])[stream_id]


def viewers_of(stream_ids: list[int]) -> dict[int, int]:
    """Viewer counts of several rooms, in one round trip."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        counts = cache.get_many([f"room:{pk}:viewers" for pk in stream_ids])
        return {pk: max(counts.get(f"room:{pk}:viewers", 0), 0) for pk in stream_ids}
    since = time.time() - PRESENCE_SECONDS
    pipe = backend._cache.get_client(write=False).pipeline(transaction=False)
    for pk in stream_ids:
        pipe.zcount(backend.make_and_validate_key(f"room:{pk}:present"), since, "+inf")
    return {pk: int(count) for pk, count in zip(stream_ids, pipe.execute(), strict=True)}


def presence_beat() -> None:
    """Renew this process's connections in every room it holds (run every PRESENCE_BEAT)."""
    backend = caches["default"]
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
            except Exception:  # Redis away for a moment: the next beat tries again
                logger.exception("viewer presence beat failed")

    _beat_thread = threading.Thread(target=beat, name="giftcast-presence", daemon=True)
    _beat_thread.start()
