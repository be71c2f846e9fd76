#!/usr/bin/env python
"""Faults, from outside: what a room does when a server dies, Redis goes away, or viewers
come and go for hours. Each scenario prints what it measured and exits non-zero when a
rule breaks.

- `kill`: two daphne processes on Redis share one room; --viewers (200) anonymous viewers
  split between them, each reconnecting on a close (to the other process, as a load
  balancer would send them). One process is killed with SIGKILL: how long until every
  viewer is connected again, and until the room's viewer count is right (the dead
  process's viewers stop counting once nobody renews them: PRESENCE_SECONDS).
- `cycles`: --cycles (10,000) connect/disconnect cycles on one daphne: its RSS before
  and after (growth ≤ 5 %), and nothing left present in Redis afterwards.
- `redis`: a Redis of the run's own (never the machine's shared one) is stopped while a fan
  sends gifts to a room with viewers, then started again, empty, as a restarted Redis
  without persistence is: every gift the fan was told was paid is in the database, the
  ledger audit is clean, and the viewers, re-synced, show the room's true coin total.

    .venv/bin/python bench/chaos.py [kill|cycles|redis|all] [--viewers 200] [--cycles 10000]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid

from _common import (  # noqa: E402
    REDIS_OPTION,
    ROOT,
    bench_args,
    daphne_command,
    drop_databases,
    free_port,
    redis_use,
    wait_port,
)  # fmt: skip
from fanout import _raise_open_files, _rss_mb, giftcast_setup

ORIGIN = "http://127.0.0.1"
RATE = "1000000/1"  # measure the faults, not the limiters
os.environ.setdefault("GIFT_RATE_LIMIT", RATE)
os.environ.setdefault("ROOM_FRAME_RATE_LIMIT", RATE)
os.environ.setdefault("ROOM_SYNC_RATE_LIMIT", RATE)


def server_start(redis_url: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "REDIS_URL": redis_url}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the bench's own, for its checks between awaits
    process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=_raise_open_files)  # fmt: skip
    wait_port(port)
    return process, port


def room_viewers(stream: int) -> int:
    from livestreams import realtime

    return realtime.viewers(stream)


class Viewer:
    """One anonymous viewer that stays in the room, as the room's client does: on a close it
    reconnects, to the next server in turn after a short random wait; it skips a frame whose
    `seq` it has seen and asks for `sync` on a gap; it keeps the room's coin total it shows."""

    def __init__(self, ports: list[int], stream: int, first: int):
        self.ports, self.stream, self.index = ports, stream, first
        self.connected = False
        self.coins = None
        self.states = 0
        self.reconnects = 0
        self.stop = False

    async def run(self):
        import websockets

        while not self.stop:
            url = f"ws://127.0.0.1:{self.ports[self.index]}/ws/live/{self.stream}/"
            try:
                async with websockets.connect(url, origin=ORIGIN, open_timeout=10,
                                              ping_interval=None, max_queue=None) as ws:  # fmt: skip
                    last_seq = 0
                    async for text in ws:
                        frame = json.loads(text)
                        seq = frame.get("seq")
                        if frame["type"] == "state":
                            self.connected, self.coins, last_seq = True, frame["coins"], seq
                            self.states += 1
                            continue
                        if frame["type"] == "resync":
                            await ws.send(json.dumps({"type": "sync"}))
                            continue
                        if isinstance(seq, int):
                            if seq <= last_seq:
                                continue  # seen, or in the state
                            if seq > last_seq + 1:
                                await ws.send(json.dumps({"type": "sync"}))
                            last_seq = seq
                        if frame["type"] == "gift":
                            self.coins = frame["ranking"]["coins"]
                        if self.stop:
                            return
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass
            self.connected = False
            if self.stop:
                return
            self.reconnects += 1
            self.index = (self.index + 1) % len(self.ports)
            await asyncio.sleep(random.uniform(0.2, 1.0))


async def _viewers_stop(viewers: list[Viewer], tasks: list[asyncio.Task]) -> None:
    for viewer in viewers:
        viewer.stop = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _until(condition, seconds: float, step: float = 0.5) -> float | None:
    """Seconds until `condition()` holds, or None if it did not within `seconds`."""
    began = time.time()
    while time.time() - began < seconds:
        if condition():
            return time.time() - began
        await asyncio.sleep(step)
    return None


# ----------------------------------------------------------------------------- kill


async def kill(args, stream: int) -> bool:
    a, port_a = server_start(os.environ["BENCH_REDIS_URL"])
    b, port_b = server_start(os.environ["BENCH_REDIS_URL"])
    viewers = [Viewer([port_a, port_b], stream, i % 2) for i in range(args.viewers)]
    tasks = [asyncio.create_task(v.run()) for v in viewers]
    try:
        joined = await _until(lambda: all(v.connected for v in viewers), 60)
        counted = await _until(lambda: room_viewers(stream) == args.viewers, 30)
        print(f"kill: {args.viewers} viewers on 2 processes, all in after {joined:.1f} s, "
              f"counted {room_viewers(stream)}")  # fmt: skip
        on_a = [v for v in viewers if v.index == 0]
        a.send_signal(signal.SIGKILL)
        a.wait()
        killed_at = time.time()
        back = await _until(lambda: all(v.connected and v.index == 1 for v in on_a), 120, step=0.1)
        peak = 0

        def right() -> bool:
            nonlocal peak
            count = room_viewers(stream)
            peak = max(peak, count)
            return count == args.viewers

        counted = await _until(right, 120)
        moved = sum(v.reconnects for v in viewers)
        print(f"  SIGKILL one process ({len(on_a)} viewers): {moved} reconnects; all on the other "
              f"{back:.1f} s after" if back is not None else "  viewers did NOT all reconnect")  # fmt: skip
        print(f"  viewer count right ({args.viewers}) {time.time() - killed_at:.0f} s after the kill "
              f"(highest seen {peak}: the dead process's viewers until unrenewed)"
              if counted is not None else f"  viewer count NOT right: {room_viewers(stream)}")  # fmt: skip
        return back is not None and counted is not None and time.time() - killed_at <= 90
    finally:
        await _viewers_stop(viewers, tasks)
        for process in (a, b):
            process.terminate()
            process.wait(timeout=20)


# ----------------------------------------------------------------------------- cycles


async def cycles(args, stream: int) -> bool:
    import websockets

    server, port = server_start(os.environ["BENCH_REDIS_URL"])
    url = f"ws://127.0.0.1:{port}/ws/live/{stream}/"
    failed = 0

    async def cycle_many(count: int, parallel: int = 20):
        nonlocal failed
        remaining = [count]

        async def worker():
            nonlocal failed
            while remaining[0] > 0:
                remaining[0] -= 1
                try:
                    async with websockets.connect(url, origin=ORIGIN, ping_interval=None) as ws:
                        while json.loads(await ws.recv())["type"] != "state":
                            pass
                except (OSError, websockets.WebSocketException):
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(parallel)))

    try:
        # Warm: every code path, pool and cache in use, and RSS at its plateau (a closed
        # connection leaves ~60 objects in reference cycles that only a full collection,
        # about every 2,000 connections, frees: RSS steps up, then stays flat).
        await cycle_many(8000)
        await asyncio.sleep(2)
        before = _rss_mb(server.pid)
        began = time.time()
        steps = []  # RSS after each tenth: a leak climbs steadily, a warming allocator levels off
        for _ in range(10):
            await cycle_many(args.cycles // 10)
            steps.append(_rss_mb(server.pid))
        took = time.time() - began
        await asyncio.sleep(3)
        after = _rss_mb(server.pid)
        left = room_viewers(stream)
        growth = (after - before) / before
        print(f"cycles: {args.cycles:,} connect/state/close cycles in {took:.0f} s "
              f"({args.cycles / took:.0f}/s), {failed} failed")  # fmt: skip
        print(f"  server RSS {before:.1f} → {after:.1f} MB ({growth:+.1%}); "
              f"viewers still present in Redis: {left}")  # fmt: skip
        print("  RSS after each tenth: " + " ".join(f"{mb:.1f}" for mb in steps))
        return growth <= 0.05 and left == 0 and failed == 0
    finally:
        server.terminate()
        server.wait(timeout=20)


# ----------------------------------------------------------------------------- redis


async def redis_outage(args, stream: int, cookie: str) -> bool:
    import redis
    import websockets
    from django.db.models import Sum

    from livestreams.models import SentGift
    from wallet.ledger import ledger_audit

    redis_port = free_port()
    own = f"redis://127.0.0.1:{redis_port}/0"

    def redis_up():
        subprocess.run(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                        "--daemonize", "yes", "--logfile", "/dev/null"], check=True)  # fmt: skip
        wait_port(redis_port)

    redis_up()
    server, port = server_start(own)
    url = f"ws://127.0.0.1:{port}/ws/live/{stream}/"
    viewers = [Viewer([port], stream, 0) for _ in range(args.viewers // 10 or 1)]
    tasks = [asyncio.create_task(v.run()) for v in viewers]
    told, refused, dropped = 0, {}, 0
    gifts_before = SentGift.objects.filter(stream_id=stream).count()
    try:
        await _until(lambda: all(v.connected for v in viewers), 30)
        began = time.time()

        async def outage():
            await asyncio.sleep(5)
            redis.Redis(port=redis_port).shutdown(nosave=True)
            await asyncio.sleep(5)
            redis_up()

        fault = asyncio.create_task(outage())
        while time.time() - began < 20:
            try:  # a fan whose socket dropped reconnects, as the room's client does
                async with websockets.connect(url, origin=ORIGIN, open_timeout=5, ping_interval=None,
                                              additional_headers={"Cookie": cookie}) as ws:  # fmt: skip
                    while json.loads(await ws.recv())["type"] != "state":
                        pass
                    while time.time() - began < 20:
                        await ws.send(json.dumps({"type": "gift.send", "gift": "rose",
                                                  "key": str(uuid.uuid4())}))  # fmt: skip
                        while True:
                            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                            if frame["type"] == "gift.ok":
                                told += 1
                                break
                            if frame["type"] == "error":
                                refused[frame["code"]] = refused.get(frame["code"], 0) + 1
                                break
                        await asyncio.sleep(0.2)
            except (TimeoutError, OSError, websockets.WebSocketException):
                dropped += 1
                await asyncio.sleep(0.5)
        await fault
        recorded = SentGift.objects.filter(stream_id=stream).count() - gifts_before
        total = SentGift.objects.filter(stream_id=stream).aggregate(c=Sum("coins"))["c"] or 0
        synced = await _until(lambda: all(v.coins == total for v in viewers), 30)
        audit = ledger_audit()
        print(f"redis: Redis stopped 5 s into 20 s of gifts, started again (empty) at 10 s; "
              f"{len(viewers)} viewers")  # fmt: skip
        print(f"  fan told paid {told}, refused {refused or 'none'}, sender sockets dropped {dropped}; "
              f"gifts recorded {recorded}")  # fmt: skip
        print(f"  viewers showing the room's true total ({total:,} coins): "
              + (f"all, {synced:.1f} s after the gifts stopped" if synced is not None
                 else f"{sum(v.coins == total for v in viewers)} of {len(viewers)}"))  # fmt: skip
        print(f"  ledger_audit: {'clean' if audit.ok else audit.problems[:3]}")
        return told == recorded and audit.ok and synced is not None
    finally:
        await _viewers_stop(viewers, tasks)
        server.terminate()
        server.wait(timeout=20)
        with contextlib.suppress(redis.RedisError):
            redis.Redis(port=redis_port).shutdown(nosave=True)


def main() -> int:
    args = bench_args(__doc__, extra=[
        ("scenario", {"nargs": "?", "choices": ["kill", "cycles", "redis", "all"], "default": "all"}),
        ("--viewers", {"type": int, "default": 200}),
        ("--cycles", {"type": int, "default": 10_000}),
        REDIS_OPTION,
    ])  # fmt: skip
    if args.redis == "none":
        raise SystemExit("the faults are run on Redis, as deployed (--redis URL)")
    _raise_open_files()
    redis_use(args.redis)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = (
        "true"  # this process reads the database between awaits
    )
    stream, cookie = giftcast_setup()
    from django.db import connection

    connection.close()
    chosen = ["kill", "cycles", "redis"] if args.scenario == "all" else [args.scenario]
    ok = True
    for name in chosen:
        if name == "kill":
            ok &= asyncio.run(kill(args, stream))
        elif name == "cycles":
            ok &= asyncio.run(cycles(args, stream))
        else:
            ok &= asyncio.run(redis_outage(args, stream, cookie))
        connection.close()
    drop_databases()
    print("all rules held" if ok else "A RULE BROKE (above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
