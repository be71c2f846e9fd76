"""The site's cache on Redis: Django's RedisCache, except that the entries whose loss is safe
are kept in the process's own memory while Redis can't be reached, so that an outage of Redis
does not take sign-in down with it.

Safe means a stand-in that at worst forgets: allauth's rate limits (keys `allauth:rl:…`,
ACCOUNT_RATE_LIMITS) are counted by each process on its own during the outage, so they still
bind, though n processes let up to n times a limit through, and the counts made meanwhile are
not carried back to Redis. Every other key still raises redis-py's ConnectionError or
TimeoutError and its caller decides: the rooms' counters and sequence numbers
(livestreams.realtime), whose answers can't be made up, and /readyz's round trip, which must
say the cache is away.
"""

from __future__ import annotations

import logging
import time

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

logger = logging.getLogger(__name__)

# The errors redis-py raises when the server can't be reached (refused, reset, timed out,
# still loading its data after a restart).
REDIS_AWAY = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# Keys served from the process's memory while Redis is away.
LOCAL_WHILE_AWAY = ("allauth:rl:",)
# After a failure such keys skip Redis this long (no connection attempt per call), then try it
# again; one warning per spell.
AWAY_SECONDS = 10.0

# Every backend object of the process (Django makes one per thread) shares this one store: a
# LocMemCache's entries live under its name. Big enough that a flood of addresses can't cull
# the counts of the others.
_local = LocMemCache("giftcast-while-redis-is-away", {"OPTIONS": {"MAX_ENTRIES": 20_000}})
_away_until = 0.0


def _went_away(exc: Exception) -> None:
    global _away_until
    if time.monotonic() >= _away_until:
        logger.warning(
            "Redis unreachable (%s): allauth's rate limits are kept in this process's memory "
            "for the next %.0f s (each process counts on its own), then Redis is tried again",
            exc, AWAY_SECONDS,
        )  # fmt: skip
    _away_until = time.monotonic() + AWAY_SECONDS


class RedisCache(DjangoRedisCache):
    """RedisCache whose LOCAL_WHILE_AWAY keys fall back to the process's memory while Redis
    can't be reached (the operations allauth's rate limits use: add, get, set, delete). On the
    happy path: one prefix test more per call, no round trip more."""

    def _or_local(self, name: str, key, *args):
        local = isinstance(key, str) and key.startswith(LOCAL_WHILE_AWAY)
        if local and time.monotonic() < _away_until:
            return getattr(_local, name)(key, *args)
        try:
            return getattr(DjangoRedisCache, name)(self, key, *args)
        except REDIS_AWAY as exc:
            if not local:
                raise
            _went_away(exc)
            return getattr(_local, name)(key, *args)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or_local("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._or_local("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or_local("set", key, value, timeout, version)

    def delete(self, key, version=None):
        return self._or_local("delete", key, version)

    def clear(self):
        _local.clear()  # what stood in for Redis goes with it
        return super().clear()
