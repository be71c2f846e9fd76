"""Room counters in the cache: one round trip on Redis, the same answers everywhere."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from livestreams import realtime


def test_counters_count_and_expire_from_first_use():
    key = f"test:count:{time.time_ns()}"
    assert realtime._count((key, 3, 60), (key + ":b", 1, None)) == [3, 1]
    assert realtime._count((key, 2, 60)) == [5]
    assert cache.get(key) == 5  # plain integers, readable through the cache API
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        ttl = client.ttl(backend.make_and_validate_key(key))
        assert 0 < ttl <= 60  # set when the counter was made, not renewed by the second add
        assert client.ttl(backend.make_and_validate_key(key + ":b")) == -1  # no timeout: kept


def test_gift_broadcast_stamps_combo_and_consecutive_seq(monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "_run", lambda fn, group, messages: sent.extend(messages))
    stream_id = time.time_ns() % 10**9
    realtime.broadcast(stream_id, {"type": "viewers", "count": 1})
    first = realtime.broadcast_gift(stream_id, {"type": "gift"}, {"type": "ranking"},
                                    sender_id=7, slug="rose", quantity=2)  # fmt: skip
    again = realtime.broadcast_gift(stream_id, {"type": "gift"}, sender_id=7, slug="rose",
                                    quantity=3)  # fmt: skip
    assert [e["seq"] for e in first + again] == [2, 3, 4]
    assert (first[0]["combo"], again[0]["combo"]) == (2, 5)
    assert [m["event"]["seq"] for m in sent] == [1, 2, 3, 4]
    assert realtime.current_seq(stream_id) == 4


@pytest.mark.parametrize(("uses", "limited"), [(3, False), (4, True)])
def test_rate_limit_window(uses, limited):
    user = time.time_ns() % 10**9
    results = [realtime.rate_limited("test", user, "3/60") for _ in range(uses)]
    assert results[-1] is limited and not any(results[:3])
