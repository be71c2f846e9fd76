"""Bursts: a fan's run of small gifts reaches the room as a few frames, not one per send.

A fan tapping Rose 100 times in a second would otherwise send every viewer 100 frames. The
first small gift of a run goes out at once, as ever; one more of the same gift from the same
fan (named or anonymous alike) within ROOM_GIFT_BURST_MS of the room's last frame for that
run is held, and what is held goes out as one `gift` frame when the window ends: its
`quantity` and `coins` summed, the sends' ids in `ids`, the combo and the ranking as they
stand after the last of them (the board and the combo counter are moved by the sum, which
leaves them where the sends one by one would). Big gifts, which play one at a time on the
stage, are never held. A gift is held only after its transaction committed, so a held gift
is paid; it reaches the room at most one window late.

Held gifts wait on an event loop of the process (the one the websocket runs on); code with no
loop to wait on (a management command, a test outside one) sends each gift at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from . import adapters

logger = logging.getLogger(__name__)
PRUNE_AT = 1024  # runs kept per process before the quiet ones are forgotten


@dataclass
class _Run:
    """One fan's run of one gift in one room, in this process."""

    sent_at: float  # when the room last got a frame for this run (monotonic)
    held: list = field(default_factory=list)  # [(frame, announcement)] not yet sent


_runs: dict[tuple, _Run] = {}
_lock = threading.Lock()


def window() -> float:
    return settings.ROOM_GIFT_BURST_MS / 1000


def hold(stream_id: int, gift: dict, announcement: dict, send: Callable) -> bool:
    """True when this committed gift joins its run's next frame (`send(stream_id, frame,
    **announcement)`, a coroutine function, sends it when the window ends); False when the
    caller sends it now (the run's window opens)."""
    seconds = window()
    if gift["big"] or seconds <= 0:
        return False
    loop = _loop()
    if loop is None:
        return False
    key = (stream_id, announcement["sender_id"], gift["gift"], gift["sender"]["anonymous"])
    now = time.monotonic()
    with _lock:
        run = _runs.get(key)
        if run is None or (not run.held and now - run.sent_at >= seconds):
            if len(_runs) >= PRUNE_AT:
                _prune(now, seconds)
            _runs[key] = _Run(sent_at=now)
            return False
        run.held.append((gift, announcement))
        if len(run.held) > 1:
            return True  # its flush is already due
        delay = max(0.0, run.sent_at + seconds - now)
    if loop is _running_loop():
        loop.call_later(delay, _flush_soon, loop, key, send)
    else:
        loop.call_soon_threadsafe(loop.call_later, delay, _flush_soon, loop, key, send)
    return True


def _flush_soon(loop, key, send) -> None:
    loop.create_task(_flush(key, send), name="giftcast-burst")


async def _flush(key: tuple, send: Callable) -> None:
    with _lock:
        run = _runs.get(key)
        if run is None or not run.held:
            return
        held, run.held, run.sent_at = run.held, [], time.monotonic()
    frame, announcement = merged(held)
    try:
        await send(key[0], frame, **announcement)
    except Exception:  # a failed send must not stop the next run's
        logger.exception("room burst of %s gifts failed to broadcast", len(held))


def merged(held: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """One frame and one announcement for gifts held in a run, oldest first: the last
    gift's, with the quantities and coins summed and every send's id."""
    last, announcement = held[-1]
    frame = {
        **last,
        "quantity": sum(gift["quantity"] for gift, _ in held),
        "coins": sum(gift["coins"] for gift, _ in held),
        "ids": [gift["id"] for gift, _ in held],
    }
    return frame, {**announcement, "quantity": frame["quantity"]}


def _prune(now: float, seconds: float) -> None:
    """Forget the runs that are over (nothing held, quiet for a window): called locked."""
    for key in [k for k, run in _runs.items() if not run.held and now - run.sent_at >= seconds]:
        del _runs[key]


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop():
    """The loop held gifts wait on: this thread's running one, or the one that called this
    worker thread (sync_to_async); None when neither runs."""
    loop = _running_loop() or adapters.calling_loop()
    return loop if loop is not None and loop.is_running() else None
