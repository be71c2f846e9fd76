"""Gifts reach their room with its ranking: the combo counted, the room's board of
gifters (a sorted set on Redis, rebuilt from the database when not all there) moved, and
the frame published, in one script call."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import NamedTuple

from channels.db import database_sync_to_async
from django.core.cache.backends.redis import RedisCache

from . import adapters
from .events import _encode, _send, _stamping, room_channel
from .outage import REDIS_AWAY, away
from .scripts import GIFT, RELABEL, SEED, _aclient, _ascript, _cache, _count, _script

COMBO_SECONDS = 5

logger = logging.getLogger("livestreams.realtime")


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
                   ranking: Callable[[], tuple[list[dict], int]],
                   anonymous: bool = False) -> list[dict]:  # fmt: skip
    """`broadcast` for a committed gift: one frame, with the room's new ranking in it.

    The gift gets its `combo` (this fan's streak of this gift; a pause of COMBO_SECONDS ends
    it) and `ranking` (the top RANKING_SIZE gifters and the room's coin total). `gifter` is
    the sender's new running total in the stream; `gifters` reads every gifter of the stream
    from the database, `ranking` the top and the total. On Redis, one script call counts
    combo and seq, updates the room's board, which answers with the top and total, and
    publishes the frame (see livestreams/lua/publish.lua); `gifters` is read only to rebuild
    a board that is not all there, and then the rebuild's script counts combo and seq as it
    publishes. Elsewhere (one process, no Redis) `ranking` is read each time, the seq and the
    send under broadcast's lock. Either way no other frame of the room can go out between
    this one's seq and its send. Returns the frame as sent, in a list as `broadcast` does.
    """
    backend = _cache()
    if not isinstance(backend, RedisCache):
        with _stamping:
            combo, last = _count(
                (_combo_key(stream_id, sender_id, slug, anonymous), quantity, COMBO_SECONDS),
                (f"room:{stream_id}:seq", 1, None),
            )
            top, total = ranking()
            frame = {**gift, "combo": combo, "ranking": {"top": top, "coins": total}}
            return _send(stream_id, [frame], last)
    named = _gift_call(backend, stream_id, gift, sender_id, slug, quantity, gifter, anonymous)
    try:
        if stream_id in _boards_stale:
            adapters.redis_client(backend).delete(named["board"], named["labels"])
            _boards_stale.discard(stream_id)
        answer = _script(backend, GIFT)(*GIFT.bind(**named))
        if not answer:  # the board is not all there: rebuilt from the database
            answer = _script(backend, SEED)(*_seed_call(named, gifters()))
    except REDIS_AWAY as exc:
        return [_gift_unsent(stream_id, gift, exc)]
    return [_gift_frame(gift, answer)]  # the script published it


async def abroadcast_gift(stream_id: int, gift: dict, *, sender_id: int, slug: str, quantity: int,
                          gifter: Gifter, gifters: Callable[[], list[Gifter]],
                          anonymous: bool = False) -> list[dict]:  # fmt: skip
    """broadcast_gift for async code, on Redis only (boards_kept()): the same scripts,
    awaited on the event loop. `gifters`, read only to rebuild a board, runs on a worker
    thread (it reads the database)."""
    backend = _cache()
    named = _gift_call(backend, stream_id, gift, sender_id, slug, quantity, gifter, anonymous)
    try:
        if stream_id in _boards_stale:
            await _aclient(backend)[0].delete(named["board"], named["labels"])
            _boards_stale.discard(stream_id)
        answer = await _ascript(backend, GIFT)(*GIFT.bind(**named))
        if not answer:
            rows = await database_sync_to_async(gifters, thread_sensitive=False)()
            answer = await _ascript(backend, SEED)(*_seed_call(named, rows))
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


def _combo_key(stream_id: int, sender_id: int, slug: str, anonymous: bool) -> str:
    """A fan's streak of one gift, anonymous sends a streak of their own: counted with the
    named ones, an anonymous gift's "× 2" would name its sender."""
    return f"room:{stream_id}:combo:{sender_id}:{slug}:{'anonymous' if anonymous else 'named'}"


def _gift_call(backend: RedisCache, stream_id: int, gift: dict, sender_id: int, slug: str,
               quantity: int, gifter: Gifter, anonymous: bool) -> dict:  # fmt: skip
    """The gift script's keys and arguments, by name (livestreams/lua/gift.lua)."""
    board, labels = _board_keys(backend, stream_id)
    return {
        "combo_key": backend.make_and_validate_key(_combo_key(stream_id, sender_id, slug, anonymous)),
        "seq_key": backend.make_and_validate_key(f"room:{stream_id}:seq"),
        "board": board, "labels": labels,
        "step": quantity, "combo_ttl": COMBO_SECONDS, "member": _member(gifter.id),
        "coins": gifter.coins, "label": _encode(gifter.label), "size": RANKING_SIZE,
        "ttl": BOARD_SECONDS, "frame": _encode(gift), "channel": room_channel(stream_id),
    }  # fmt: skip


def _seed_call(named: dict, gifters: list[Gifter]) -> tuple[list, list]:
    """The rebuild script's keys and arguments (the gift script's, less the sender's line,
    plus every gifter's), after the gift script found the board not all there."""
    rows = [a for g in gifters for a in (_member(g.id), g.coins, _encode(g.label))]
    seed = {name: value for name, value in named.items() if name not in _SENDER_LINE}
    return SEED.bind(**seed, gifters=rows)


_SENDER_LINE = ("member", "coins", "label")  # the gift script's, which the rebuild reads whole


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
