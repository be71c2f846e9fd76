"""Rate limits of the rooms' frames: fixed windows counted in the cache (on Redis one
script call), refused as `unavailable` when they can't be counted."""

from __future__ import annotations

import math
import time

from .. import exceptions as errors
from .boards import boards_kept
from .outage import REDIS_AWAY, UNAVAILABLE, away
from .scripts import _acount, _count


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
