"""When Redis, which holds the rooms (counters, seq, boards, presence, the rooms' channels),
can't be reached: what its callers catch, the refusal a fan is sent, and the log lines.

The rooms never make up an answer Redis should have given: a room's seq, a rate limit or a
viewer count that can't be read is not read as 0. Instead a join is refused with a close the
client reconnects on (4503, consumers), a gift or chat line is refused before anything is
written (UNAVAILABLE), pages show viewer counts as unknown (selectors.discovery), and once
Redis answers again the hub's subscription tells every viewer to resync (hub).
"""

from __future__ import annotations

import logging
import threading
import time

from config.cache import REDIS_AWAY

from ..exceptions import UNAVAILABLE  # the error a gift, chat line or sync gets meanwhile

__all__ = ["AWAY_LOG_SECONDS", "REDIS_AWAY", "UNAVAILABLE", "TRY_AGAIN_LATER", "away"]

logger = logging.getLogger("livestreams.realtime")

# The close code of a room join refused while Redis is away, as 4403 and 4404 are HTTP's
# (the standard 1013 "try again later" is one autobahn, under daphne, refuses to send): the
# room client (static/js/gifts.js) answers any close but 4403 and 4404 by reconnecting with
# backoff.
TRY_AGAIN_LATER = 4503
AWAY_LOG_SECONDS = 10.0

_logged: dict[str, tuple[float, int]] = {}  # what -> (when last logged, how many since)
_lock = threading.Lock()


def away(what: str, exc: BaseException) -> None:
    """Log that `what` happened because Redis can't be reached: a warning at most once per
    AWAY_LOG_SECONDS for each `what`, saying how many more there were meanwhile, so that an
    outage neither floods the log (every viewer's retries) nor goes unsaid."""
    now = time.monotonic()
    with _lock:
        last, more = _logged.get(what, (float("-inf"), 0))
        if now - last < AWAY_LOG_SECONDS:
            _logged[what] = (last, more + 1)
            return
        _logged[what] = (now, 0)
    since = f" ({more} more since the last line)" if more else ""
    logger.warning("Redis unreachable (%s): %s%s", exc, what, since)
