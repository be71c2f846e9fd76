#!/usr/bin/env python
"""Gifts per second through the websocket path, beside the send-gift service alone.

The same database and gifts as bench/gift_throughput.py. First the service alone (8 worker
threads calling livestreams.services.gift_send, as that benchmark does); then a real daphne
server on this machine, and 8 websocket clients, each signed in as a verified fan, sending
`gift.send` frames and waiting for each `gift.ok` (while the room's broadcasts arrive): spread
over 8 rooms, then all 8 in one room (every gift fanned out to 8 viewers).

    .venv/bin/python bench/websocket_gifts.py [--seconds 15] [--clients 8] [--history 100000]
                                              [--processes N] [--servers N] [--redis URL|none]

One daphne process by default, `--servers 2` runs two; service and servers use Redis
(default redis://127.0.0.1:6379/15, flushed first) for cache and channel layer, as a
deployment beyond one machine does. `--redis none` (one server only) measures the
one-process default: in-memory channel layer and local cache. Needs PostgreSQL and pgbench
as the other benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid

from _common import (  # noqa: E402
    BENCH_DB,
    REDIS_OPTION,
    ROOT,
    SERVER,
    CpuMeter,
    bench_args,
    daphne_command,
    django_setup,
    drop_databases,
    free_port,
    pgbench,
    redis_use,
    run_workers,
    wait_port,
)
from gift_throughput import gifts
from gift_throughput import setup as gift_setup

RATE = "1000000/1"  # measure the path, not the limiter
os.environ.setdefault("GIFT_RATE_LIMIT", RATE)
os.environ.setdefault("ROOM_FRAME_RATE_LIMIT", RATE)  # a bench connection sends far more


def sessions(fans: list[int]) -> dict[int, str]:
    """A signed-in session for each fan (gift_throughput.setup verified their addresses)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User

    users = User.objects.filter(pk__in=fans)
    keys = {}
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys[user.pk] = store.session_key
    return keys


def servers_start(count: int) -> tuple[list[subprocess.Popen], list[int]]:
    env = {**os.environ, "DATABASE_URL": f"{SERVER}/{BENCH_DB}", "GIFT_RATE_LIMIT": RATE, "ROOM_FRAME_RATE_LIMIT": RATE,
           "DJANGO_SETTINGS_MODULE": "config.settings.local"}  # fmt: skip
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    elif count > 1:
        raise SystemExit("more than one server needs Redis (--redis URL)")
    else:
        env.pop("REDIS_URL", None)
    procs, ports = [], []
    for _ in range(count):
        port = free_port()
        procs.append(
            subprocess.Popen(
                daphne_command(port),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        )
        ports.append(port)
    for port in ports:
        wait_port(port)
    return procs, ports


async def _client(port: int, stream: int, session: str, deadline: float, counts: list, i: int):
    import websockets

    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/live/{stream}/",
        additional_headers={"Cookie": f"sessionid={session}"},
        origin=f"http://127.0.0.1:{port}",
        max_queue=None,
    ) as ws:
        first = json.loads(await ws.recv())
        if first.get("type") != "state":
            raise RuntimeError(f"expected the room's state first, got {first}")
        slugs = ["rose", "finger-heart", "perfume", "doughnut", "paper-crane"]
        done = 0
        while time.time() < deadline:
            key = str(uuid.uuid4())
            await ws.send(json.dumps({"type": "gift.send", "gift": random.choice(slugs),
                                      "quantity": random.randint(1, 3), "key": key}))  # fmt: skip
            while True:  # the room's broadcasts arrive in between (parsed only if ours)
                text = await ws.recv()
                if key in text and (frame := json.loads(text)).get("key") == key:
                    break
            if frame["type"] != "gift.ok":
                raise RuntimeError(f"gift refused: {frame}")
            done += 1
        counts[i] = done


def run_sockets(ports, rooms, fans, keys, seconds: int) -> float:
    counts = [0] * len(fans)
    deadline = time.time() + 2 + seconds

    async def main():
        await asyncio.gather(
            *(
                _client(
                    ports[i % len(ports)], rooms[i % len(rooms)], keys[fan], deadline, counts, i
                )
                for i, fan in enumerate(fans)
            )
        )

    start = time.time()
    with CpuMeter() as cpu:
        asyncio.run(main())
    elapsed = time.time() - start
    total = sum(counts)
    print(
        f"  {len(set(rooms))} room(s): {total / elapsed:,.0f} gifts/s over websockets "
        f"(CPU busy {cpu.busy:.0%})"
    )
    return total / elapsed


def main() -> int:
    ap_args = bench_args(__doc__, extra=[("--servers", {"type": int, "default": 1}), REDIS_OPTION])
    redis_use(ap_args.redis)
    pools, streams = gift_setup(ap_args.history, ap_args.clients)
    django_setup()
    fans = [pool[0] for pool in pools]  # one signed-in fan per client
    keys = sessions(fans)
    from django.db import connection

    connection.close()

    pg = pgbench(ap_args.seconds, ap_args.clients)
    one_fan_each = [[fan] for fan in fans]
    spread_rooms = random.sample(streams, len(fans))
    alone_spread = run_workers(gifts, one_fan_each, spread_rooms, seconds=ap_args.seconds,
                               processes=ap_args.processes, what="gifts")  # fmt: skip
    alone_hot = run_workers(gifts, one_fan_each, spread_rooms[:1], seconds=ap_args.seconds,
                            processes=ap_args.processes, what="gifts")  # fmt: skip
    procs, ports = servers_start(ap_args.servers)
    try:
        ws_spread = run_sockets(ports, spread_rooms, fans, keys, ap_args.seconds)
        ws_hot = run_sockets(ports, spread_rooms[:1], fans, keys, ap_args.seconds)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)

    print(
        f"clients: {ap_args.clients}, {ap_args.seconds}s per run, daphne processes: {ap_args.servers}"
    )
    print(f"pgbench tpcb-like TPS                  {pg:8.0f}")
    print(
        f"service alone, 8 rooms, gifts/s         {alone_spread:8.0f}   {alone_spread / pg:5.2f}x pgbench"
    )
    print(
        f"websocket path, 8 rooms, gifts/s        {ws_spread:8.0f}   {ws_spread / alone_spread:5.0%} of the service"
    )
    print(
        f"service alone, one room, gifts/s        {alone_hot:8.0f}   {alone_hot / pg:5.2f}x pgbench"
    )
    print(
        f"websocket path, one room (8 viewers)    {ws_hot:8.0f}   {ws_hot / alone_hot:5.0%} of the service"
    )
    drop_databases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
