"""Realtime plumbing for the rooms, one module per concern; callers use this package's names.

- events:   a room's `seq` and the one broadcast helper (`broadcast`, `broadcast_on_commit`)
- boards:   gifts with the room's ranking (`broadcast_gift`, `abroadcast_gift`, the boards)
- bursts:   a fan's run of small gifts sent as a few frames
- limits:   rate limits of the rooms' frames
- presence: viewers and their coalesced counts
- scripts:  the counters and Lua scripts on Redis (or the process's cache without it)
- hub:      this process's rooms: one subscription per room, its viewers' frames written out
- adapters: every touch of another library's private parts, in one place
- outage:   what each caller does while Redis can't be reached

Counters live in the cache (Redis when REDIS_URL is set), so they hold across server
processes.
"""

from __future__ import annotations

from . import adapters, bursts, hub, outage
from .boards import (
    BOARD_SECONDS,
    RANKING_SIZE,
    Gifter,
    abroadcast_gift,
    board_relabel,
    boards_kept,
    broadcast_gift,
)
from .events import broadcast, broadcast_on_commit, current_seq, room_channel
from .limits import arate_limited, arate_wait, rate_limited
from .presence import (
    PRESENCE_BEAT,
    PRESENCE_SECONDS,
    aviewers_join,
    presence_beat,
    viewers,
    viewers_changed,
    viewers_claim,
    viewers_join,
    viewers_leave,
    viewers_of,
)

__all__ = [
    "adapters", "bursts", "hub", "outage",
    "BOARD_SECONDS", "PRESENCE_BEAT", "PRESENCE_SECONDS", "RANKING_SIZE", "Gifter",
    "abroadcast_gift", "arate_limited", "arate_wait", "aviewers_join", "board_relabel",
    "boards_kept", "broadcast", "broadcast_gift", "broadcast_on_commit", "current_seq",
    "presence_beat", "rate_limited", "room_channel", "viewers", "viewers_changed",
    "viewers_claim", "viewers_join", "viewers_leave", "viewers_of",
]  # fmt: skip
