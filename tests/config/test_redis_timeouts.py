"""A Redis that hangs, or a network that drops its packets, is Redis away within
REDIS_TIMEOUT, not a caller stuck for the system's TCP timeouts.

Each case runs the site's real settings in a process of its own, pointed at a port that
never answers: one that accepts connections and stays silent (a hung Redis), and one whose
queue of connections is full, so the kernel drops the handshake (packets lost on the way).
The site's cache (sign-in's rate limits, the rooms' sync calls), the rooms' event-loop client
and the hub's subscription must each give up within the timeout, with redis-py's
ConnectionError or TimeoutError: what their callers treat as Redis away. (redis-py 8
defaults to 5 s for both; the site sets its own, so a library whose default differs, as
redis-py's before 8 did with none at all, changes nothing.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import asyncio, json, time
import django
django.setup()
from django.core.cache import cache
from config.cache import REDIS_AWAY
from livestreams.exceptions import RoomError
from livestreams.realtime import hub, limits

took = {}
t = time.monotonic()
try:
    cache.set("probe", 1)
    took["cache"] = "answered"
except REDIS_AWAY:
    took["cache"] = time.monotonic() - t

async def room():
    t = time.monotonic()
    try:
        await limits.arate_limited("gift", 1, "10/10")
        took["rooms"] = "answered"
    except RoomError as exc:
        took["rooms"] = time.monotonic() - t if exc.code == "unavailable" else exc.code
    t = time.monotonic()
    try:
        await hub._Subscriber().subscribe(1)
        took["subscription"] = "answered"
    except REDIS_AWAY:
        took["subscription"] = time.monotonic() - t

asyncio.run(room())
print(json.dumps(took))
"""


def _silent_port():
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    return server, []


def _dropping_port():
    """A port whose accept queue is full: the kernel drops further handshakes' SYNs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(16):
        filler = socket.socket()
        filler.settimeout(0.3)
        try:
            filler.connect(server.getsockname())
        except TimeoutError:
            filler.close()
            return server, fillers
        except OSError:  # refused instead of dropped: not the case this means to make
            filler.close()
            break
        fillers.append(filler)
    for sock in [server, *fillers]:
        sock.close()
    pytest.skip("this kernel didn't drop the handshakes: can't make a port that drops them")


@pytest.mark.parametrize("port", [_silent_port, _dropping_port], ids=["silent", "dropping"])
def test_a_redis_that_never_answers_is_away_within_the_timeout(port):
    server, fillers = port()
    host, number = server.getsockname()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "REDIS_URL": f"redis://{host}:{number}/0",
        "REDIS_TIMEOUT": "0.5",
    }
    env.pop("DATABASE_URL", None)  # none of this reads the database
    began = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
    finally:
        for sock in [server, *fillers]:
            sock.close()
    assert result.returncode == 0, result.stderr[-2000:]
    took = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(took) == {"cache", "rooms", "subscription"}
    for what, seconds in took.items():
        assert isinstance(seconds, float), f"{what}: {seconds}"
        assert 0.4 <= seconds < 3, f"{what} gave up after {seconds:.2f} s, not about 0.5 s"
    assert time.monotonic() - began < 45
