"""Redis away, for the tests that check the site degrades instead of answering 500: the
settings a deployment gets from REDIS_URL (built by config/settings/base.py itself), pointed
at a port nothing listens on or at a Redis server of the test's own that it stops and starts.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest

BASE_SETTINGS = Path(__file__).resolve().parent.parent / "config" / "settings" / "base.py"


def free_port() -> int:
    """A loopback port nothing listens on (the kernel's pick, released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_settings(url: str) -> dict:
    """CACHES and CHANNEL_LAYERS as config/settings/base.py builds them for REDIS_URL=url."""
    spec = importlib.util.spec_from_file_location("giftcast_settings_for_redis", BASE_SETTINGS)
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, {"REDIS_URL": url}):
        spec.loader.exec_module(module)
    return {"CACHES": module.CACHES, "CHANNEL_LAYERS": module.CHANNEL_LAYERS}


def rooms_forget() -> None:
    """Drop what the process keeps between calls to Redis: the hub's subscription and rooms,
    the event loops' Redis clients, the boards marked stale, and the cache's stand-in for
    allauth's rate limits with its "Redis is away" spell (the cache backend itself is made
    again on every CACHES change: realtime.adapters)."""
    from config import cache
    from livestreams.realtime import boards, hub, outage, presence, scripts

    hub._subscriber = None
    hub._rooms.clear()
    scripts._aclients.clear()
    presence._present.clear()
    boards._boards_stale.clear()
    outage._logged.clear()
    cache._local.clear()
    cache._away_until = 0.0


def point_at(settings, url: str) -> None:
    """The cache and the channel layer on the Redis at `url`, as a deployment would be."""
    for name, value in redis_settings(url).items():
        setattr(settings, name, value)
    rooms_forget()


def unreachable(settings):
    """For a fixture: the cache and the channel layer on a Redis nobody runs."""
    point_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    yield
    rooms_forget()


class OwnRedis:
    """A redis-server of the test's own, on a free port, that it may stop and start again
    (empty each time, as a Redis restarted without persistence comes back)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def own_running(settings):
    """For a fixture: a Redis server of the test's own, running, with the cache and the
    channel layer pointed at it; stopped at the end."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is needed for the Redis restart tests")
        pytest.skip("redis-server is not installed")
    server = OwnRedis()
    server.start()
    point_at(settings, server.url)
    yield server
    rooms_forget()
    server.stop()
