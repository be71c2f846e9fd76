#!/usr/bin/env python
"""One big room: N websocket viewers join at once, then a fan sends gifts, beside a bare server.

The same run measures two servers on this machine, each with the same viewers and the same
gifts: a bare `websockets` broadcast server (a few lines: it numbers each gift and hands the
text to `websockets.broadcast`), then Giftcast (daphne by default, one process, on
PostgreSQL and Redis, with production's settings as deployed; --settings local for
DEBUG's). For each:

- a join storm: N viewers (anonymous, as most watchers are) connect at --join-rate a
  second; connections failed, p50/p99 from connecting to the room's `state`, and the
  frames each viewer received during the storm;
- gifts: one signed-in fan sends Roses over its own websocket at --gift-rate a second for
  --seconds, then (--ramp) six more steps of 10 s, each at twice the rate of the one
  before; per step p50/p99 from the send to the *last* viewer, viewer-gifts never
  delivered, the frames per second the viewers received, `seq` gaps and `resync` frames;
- server CPU per delivered frame (the server processes' user+system time over the frames
  their viewers received) and RSS before the joins, idle (after them) and loaded (peak
  while gifts go), per process, with each viewer's share of it.

--server-procs N runs Giftcast as N processes behind the one room: client process i's
viewers join server i % N (the fan sends on the first), as a proxy spreading connections
would, so the frames/s rows show what a second process adds.

Viewers run in --client-procs processes, each reporting its own CPU, printed so a client that
was the limit shows. By default they use a lean client that cuts frames from the bytes as
they arrive (LeanViewer: no coroutine per frame, room events read by regular expression), so
that the clients, on the same cores as the server, are not the limit; --client websockets
uses the `websockets` library instead (about 1.6 times the CPU), to cross-check. Either way
a client reads each frame with a system call of its own (the server sends each viewer each
frame as it goes), some 20 µs of Python a frame: about twice the server's, so on a machine
where they share the cores the clients are the limit first.

    .venv/bin/python bench/fanout.py [--viewers 1000] [--join-rate 200] [--gift-rate 10]
        [--seconds 20] [--ramp] [--client-procs 4] [--client lean|websockets]
        [--server daphne|uvicorn|granian]
        [--server-procs 1] [--settings production|local] [--skip-bare] [--redis URL]
        [--server-log FILE] [--profile FILE] [--burst-ms MS]

`--server uvicorn|granian` and `--profile` (py-spy, sampling the first server process) need
those installed in the project's environment (`.venv/bin/pip install uvicorn granian
py-spy`); they are not dependencies.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

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

RATE = "1000000/1"  # the fan's gift rate limit: measure the room, not the limiter
os.environ.setdefault("GIFT_RATE_LIMIT", RATE)
os.environ.setdefault("ROOM_FRAME_RATE_LIMIT", RATE)  # a bench connection sends far more
BUDGET_MS = 250


def _raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 20_000), hard), hard))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(pids: list[int]) -> float:
    return sum(_cpu_seconds(pid) for pid in pids)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ----------------------------------------------------------------------------- the bare server


def bare_server(port: int) -> None:
    """The comparison: websockets' own broadcast, one process, no framework."""
    import websockets
    from websockets.asyncio.server import serve

    viewers: set = set()
    seq = 0
    sent = 0

    async def handler(ws):
        nonlocal seq, sent
        viewers.add(ws)
        try:
            await ws.send(json.dumps({"type": "state", "seq": seq, "viewers": len(viewers)}))
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "gift.send":
                    seq += 1
                    sent += 1
                    gift = {"type": "gift", "seq": seq, "id": sent, "gift": "rose", "quantity": 1,
                            "sender": {"handle": "fan", "name": "Fan"}, "combo": 1}  # fmt: skip
                    websockets.broadcast(viewers, json.dumps(gift, separators=(",", ":")))
                    await ws.send(json.dumps({"type": "gift.ok", "key": frame.get("key")}))
        finally:
            viewers.discard(ws)

    async def main():
        async with serve(handler, "127.0.0.1", port, max_queue=None, ping_interval=None):
            await asyncio.Future()

    _raise_open_files()
    asyncio.run(main())


# ----------------------------------------------------------------------------- viewers


TYPE = re.compile(rb'\{"type": ?"([a-z.]+)"')
SEQ = re.compile(rb'"seq": ?(\d+)')
IDS = re.compile(rb'"ids": ?\[([\d, ]*)\]')
ID = re.compile(rb'"id": ?(\d+)')


def _fields(payload: bytes) -> tuple[str | None, int | None, list[int]]:
    """(type, seq, gift ids) of a frame. Room events are read with a few regular expressions
    (their `type`, then `seq`, come first, and only a gift's own ids are named `id`/`ids`);
    a `state` or `resync`, or a frame laid out otherwise, is parsed whole."""
    head = TYPE.match(payload)
    if head is None or head.group(1) in (b"state", b"resync"):
        frame = json.loads(payload)
        kind, seq = frame.get("type"), frame.get("seq")
        ids = (frame.get("ids") or [frame["id"]]) if kind == "gift" else []
        return kind, seq if isinstance(seq, int) else None, ids
    kind = head.group(1).decode()
    found = SEQ.search(payload)
    ids = []
    if kind == "gift":
        many = IDS.search(payload)
        ids = (
            [int(x) for x in many.group(1).split(b",")]
            if many
            else [int(ID.search(payload).group(1))]
        )
    return kind, int(found.group(1)) if found else None, ids


class LeanViewer(asyncio.Protocol):
    """A websocket viewer with no library in the way, so that the clients are not the limit:
    the handshake by hand, then the server's frames (unmasked and unfragmented, as daphne and
    websockets send them) cut from the bytes as they arrive and handed to `on_frame`, pings
    answered; no coroutine wakes up per frame. --client websockets uses the library instead
    (each frame through its reader, its queue and an `async for`), to cross-check."""

    def __init__(self, host: str, path: str, on_frame):
        loop = asyncio.get_running_loop()
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                        f"{base64.b64encode(os.urandom(16)).decode()}\r\n"
                        "Origin: http://127.0.0.1\r\n\r\n").encode()  # fmt: skip
        self.on_frame = on_frame
        self.opened = loop.create_future()  # the handshake's answer was 101
        self.closed = loop.create_future()  # the close code (1006: the connection just went)
        self.buffer = bytearray()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        buf = self.buffer
        buf += data
        pos = 0
        if not self.opened.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if not status.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            self.opened.set_result(None)
            pos = end + 4
        size = len(buf)
        while size - pos >= 2:
            length, head = buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if pos + head + length > size:
                break
            opcode = buf[pos] & 0x0F
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            if opcode == 0x1:
                self.on_frame(payload)
            elif opcode == 0x9:  # ping: pong with its payload (daphne closes unanswered ones)
                self._send(0xA, payload)
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.closed.done():
                    self.closed.set_result(code)
                self.transport.close()
        del buf[:pos]

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client's frame (masked; control frames only, under 126 bytes)."""
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body)

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(1006)


def viewers_process(url: str, count: int, offset: int, stride: int, join_rate: float,
                    start_at: float, shared, results, client: str = "lean") -> None:  # fmt: skip
    """`count` viewers of one room, joining from `start_at` at `join_rate` a second in all
    (this process takes every n-th slot); each records what arrives until told to stop."""
    _raise_open_files()
    import websockets

    joined, gifts_start, stop = shared
    per_viewer = []
    where = urlsplit(url)

    def seen(record: dict, began: float, kind, seq, ids) -> None:
        now = time.time()
        if kind == "state" and record["join"] is None:
            record["join"] = now - began
            with joined.get_lock():
                joined.value += 1
        if gifts_start.value and now >= gifts_start.value:
            record["frames"] += 1
            second = int(now)
            record["seconds"][second] = record["seconds"].get(second, 0) + 1
        else:
            record["storm_frames"] += 1
        if kind in ("state", "resync"):
            record["resyncs"] += kind == "resync"
            record["last_seq"] = seq
            return
        last_seq = record["last_seq"]
        if seq is not None:
            if last_seq is not None and seq > last_seq + 1:
                record["gaps"] += seq - last_seq - 1
            record["last_seq"] = seq if last_seq is None else max(seq, last_seq)
        for gift_id in ids:  # a burst's frame carries every send in it
            record["gifts"][gift_id] = now

    def failed(record: dict, why: str) -> None:
        record["failed"] = why
        with joined.get_lock():
            joined.value += 1

    async def lean(record: dict, began: float):
        loop = asyncio.get_running_loop()
        viewer = LeanViewer(where.netloc, where.path,
                            lambda payload: seen(record, began, *_fields(payload)))  # fmt: skip
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: viewer, where.hostname, where.port), 60
            )
            await asyncio.wait_for(viewer.opened, 60)
        except Exception as exc:  # noqa: BLE001 - a failed handshake is a result
            failed(record, f"{type(exc).__name__}: {str(exc)[:80]}")
            return
        try:
            code = await viewer.closed
            record["failed"] = record["failed"] or f"closed {code}"
        finally:
            viewer.transport.close()

    async def library(record: dict, began: float):
        try:
            ws = await websockets.connect(url, origin="http://127.0.0.1", max_queue=None,
                                          open_timeout=60, ping_interval=None)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a failed handshake is a result
            failed(record, f"{type(exc).__name__}: {str(exc)[:80]}")
            return
        try:
            async for text in ws:
                frame = json.loads(text)
                kind, seq = frame.get("type"), frame.get("seq")
                ids = (frame.get("ids") or [frame["id"]]) if kind == "gift" else []
                seen(record, began, kind, seq if isinstance(seq, int) else None, ids)
                if stop.value:
                    break
        except websockets.ConnectionClosed as exc:
            record["failed"] = record["failed"] or f"closed {exc.rcvd.code if exc.rcvd else ''}"
        finally:
            await ws.close()

    async def viewer(i: int):
        slot = offset + i * stride
        await asyncio.sleep(max(0.0, start_at + slot / join_rate - time.time()))
        began = time.time()
        record = {"failed": None, "join": None, "storm_frames": 0, "frames": 0, "gifts": {},
                  "gaps": 0, "resyncs": 0, "seconds": {}, "last_seq": None}  # fmt: skip
        per_viewer.append(record)
        await (lean if client == "lean" else library)(record, began)

    async def main():
        tasks = [asyncio.create_task(viewer(i)) for i in range(count)]
        while not stop.value:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    cpu_before = time.process_time()
    asyncio.run(main())
    # Merge here: one message per process, not one per viewer.
    merged: dict[int, list] = {}
    seconds: dict[int, int] = {}
    for record in per_viewer:
        for second, count in record.pop("seconds").items():
            seconds[second] = seconds.get(second, 0) + count
        for gift_id, at in record["gifts"].items():
            entry = merged.setdefault(gift_id, [0, 0.0])
            entry[0] += 1
            entry[1] = max(entry[1], at)
        record["gifts"] = len(record["gifts"])
    results.put({"viewers": per_viewer, "gifts": merged, "seconds": seconds,
                 "cpu": time.process_time() - cpu_before})  # fmt: skip


async def warm_up(urls: list[str]) -> None:
    """One viewer to each server, until it has the room's state, then gone: the servers are
    up (granian's worker starts after its port is bound) and have served a join before the
    RSS the viewers' share is counted from."""
    import websockets

    for url in urls:
        deadline = time.time() + 30
        while True:
            try:
                async with websockets.connect(url, origin="http://127.0.0.1") as ws:
                    while json.loads(await ws.recv()).get("type") != "state":
                        pass
                break
            except (OSError, websockets.InvalidHandshake):
                if time.time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # the leave is counted, the connection's objects gone


# ----------------------------------------------------------------------------- the sender


async def send_gifts(url: str, cookie: str | None, schedule: list[float]) -> tuple[list, list]:
    """One fan sends a Rose at each time of `schedule`; the room's gift frames it sees, in
    order, are its own (nobody else sends), so the k-th is the k-th send's id."""
    import websockets

    headers = {"Cookie": cookie} if cookie else {}
    sent_at: list[float] = []
    ids: list[int] = []
    refused: list[str] = []
    async with websockets.connect(url, origin="http://127.0.0.1", additional_headers=headers,
                                  max_queue=None, ping_interval=None) as ws:  # fmt: skip
        while json.loads(await ws.recv()).get("type") != "state":
            pass

        async def reader():
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "gift":
                    ids.extend(frame.get("ids") or [frame["id"]])
                elif frame.get("type") == "error":
                    refused.append(frame.get("code", "?"))
                if len(ids) + len(refused) >= len(schedule):
                    return

        task = asyncio.create_task(reader())
        for at in schedule:
            await asyncio.sleep(max(0.0, at - time.time()))
            sent_at.append(time.time())
            await ws.send(json.dumps({"type": "gift.send", "gift": "rose", "quantity": 1,
                                      "key": str(uuid.uuid4())}))  # fmt: skip
        with contextlib.suppress(TimeoutError):  # frames lost: counted as such
            await asyncio.wait_for(task, timeout=15)
    if refused:
        print(f"    gifts refused: {len(refused)} ({', '.join(sorted(set(refused)))})")
    return sent_at, ids


# ----------------------------------------------------------------------------- one run


def run(label: str, pids: list[int], urls: list[str], cookie: str | None, args,
        profile: str = "") -> dict:  # fmt: skip
    """One measured run against the server processes `pids`, listening at `urls`: client
    process i's viewers join urls[i % len(urls)], the fan sends on the first. `profile`: a
    file for py-spy's samples of the first process while the gifts go (raw, collapsed)."""
    # Only `joined` is written by the viewers; the parent alone sets the others (no lock to read).
    joined = mp.Value("i", 0)
    gifts_start, stop = mp.Value("d", 0.0, lock=False), mp.Value("b", 0, lock=False)
    results = mp.Queue()
    start_at = time.time() + 2
    per = [args.viewers // args.client_procs + (i < args.viewers % args.client_procs)
           for i in range(args.client_procs)]  # fmt: skip
    procs = [
        mp.Process(
            target=viewers_process,
            args=(
                urls[i % len(urls)],
                n,
                i,
                args.client_procs,
                args.join_rate,
                start_at,
                (joined, gifts_start, stop),
                results,
                args.client,
            ),
        )  # fmt: skip
        for i, n in enumerate(per)
    ]
    asyncio.run(warm_up(urls))
    rss_before = [_rss_mb(pid) for pid in pids]
    for proc in procs:
        proc.start()
    cpu0 = _cpu(pids)
    deadline = start_at + args.viewers / args.join_rate + 120
    while joined.value < args.viewers and time.time() < deadline:
        time.sleep(0.1)
    storm = time.time() - start_at
    storm_cpu = _cpu(pids) - cpu0
    time.sleep(3)
    rss_idle = [_rss_mb(pid) for pid in pids]

    steps = [(args.gift_rate, args.seconds)]
    if args.ramp:
        rate = args.gift_rate
        for _ in range(6):
            rate *= 2
            steps.append((rate, 10))
    report = {"label": label, "storm_s": storm, "storm_cpu": storm_cpu, "rss_idle": rss_idle,
              "rss_before": rss_before, "procs": len(pids), "steps": []}  # fmt: skip
    first = time.time() + 1
    gifts_start.value = first
    cpu1 = [_cpu_seconds(pid) for pid in pids]
    rss_peak = list(rss_idle)
    schedule, bounds, at = [], [], first
    for rate, seconds in steps:
        n = int(rate * seconds)
        bounds.append((len(schedule), len(schedule) + n, rate, at, seconds))
        schedule += [at + k / rate for k in range(n)]
        at += seconds + 3  # a pause between steps, to drain

    async def sender_and_watch():
        task = asyncio.create_task(send_gifts(urls[0], cookie, schedule))
        while not task.done():
            for k, pid in enumerate(pids):
                rss_peak[k] = max(rss_peak[k], _rss_mb(pid))
            await asyncio.sleep(0.5)
        return await task

    spy = None
    if profile:  # from the first gift to the last step's end and its pause
        spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                                str(pids[0]), "--duration", str(int(at - time.time())), "--rate",
                                "200", "--gil", "--format", "raw", "-o", profile],
                               stdout=subprocess.DEVNULL)  # fmt: skip
    sent_at, ids = asyncio.run(sender_and_watch())
    time.sleep(3)
    cpu_each = [_cpu_seconds(pid) - before for pid, before in zip(pids, cpu1, strict=True)]
    cpu_gifts = sum(cpu_each)
    if spy is not None and spy.wait(timeout=60) != 0:
        print(f"    py-spy failed ({spy.returncode}): no profile in {profile}")
    stop.value = 1
    gathered = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)

    viewers = [v for g in gathered for v in g["viewers"]]
    gifts: dict[int, list] = {}
    seconds: dict[int, int] = {}
    for g in gathered:
        for second, count in g["seconds"].items():
            seconds[second] = seconds.get(second, 0) + count
        for gift_id, (count, last) in g["gifts"].items():
            entry = gifts.setdefault(gift_id, [0, 0.0])
            entry[0] += count
            entry[1] = max(entry[1], last)
    connected = [v for v in viewers if v["join"] is not None]
    watching = sum(1 for v in connected if not v["failed"])
    report.update(
        failed=sum(1 for v in viewers if v["join"] is None),
        failures=sorted({v["failed"] for v in viewers if v["failed"] and v["join"] is None})[:3],
        join_p50=_pct([v["join"] for v in connected], 0.5),
        join_p99=_pct([v["join"] for v in connected], 0.99),
        storm_frames=statistics.mean(v["storm_frames"] for v in connected) if connected else 0,
        frames=sum(v["frames"] for v in viewers),
        gaps=sum(v["gaps"] for v in viewers),
        resyncs=sum(v["resyncs"] for v in viewers),
        dropped=sum(1 for v in connected if v["failed"]),
        cpu_gifts=cpu_gifts,
        cpu_each=[round(c, 1) for c in cpu_each],
        rss_peak=rss_peak,
        client_cpu=[round(g["cpu"], 1) for g in gathered],
    )
    for lo, hi, rate, began, length in bounds:
        # whole seconds inside the step (the send's second and the next: a frame's delivery)
        inside = range(int(began) + 1, int(began + length))
        frames_s = sum(seconds.get(t, 0) for t in inside) / max(len(inside), 1)
        lat, lost = [], 0
        for k in range(lo, min(hi, len(ids), len(sent_at))):
            count, last = gifts.get(ids[k], (0, 0.0))
            lost += watching - count
            if count:
                lat.append((last - sent_at[k]) * 1000)
        lost += (hi - lo - len(lat)) * watching if len(lat) < hi - lo else 0
        report["steps"].append({"rate": rate, "sent": hi - lo, "p50": _pct(lat, 0.5),
                                "p99": _pct(lat, 0.99), "lost": max(lost, 0),
                                "frames_s": frames_s})  # fmt: skip
    return report


def show(reports: list[dict], args) -> None:
    cols = [r["label"] for r in reports]
    print(f"\n{args.viewers} viewers, joining at {args.join_rate}/s; {args.server_procs} server"
          f" process{'es' if args.server_procs > 1 else ''} for Giftcast ({args.settings} settings)")  # fmt: skip
    print(f"{'':44}" + "".join(f"{c:>21}" for c in cols))

    def row(name, fmt, key):
        print(
            f"{name:44}" + "".join(f"{fmt(r) if key is None else fmt(r[key]):>21}" for r in reports)
        )

    row("join storm: wall time", lambda v: f"{v:.1f} s", "storm_s")
    row("  handshakes failed", str, "failed")
    row(
        "  join to state p50 / p99",
        lambda r: f"{r['join_p50'] * 1000:.0f} / {r['join_p99'] * 1000:.0f} ms",
        None,
    )
    row("  frames per viewer during the storm", lambda v: f"{v:.1f}", "storm_frames")
    row("  server CPU during the storm", lambda v: f"{v:.1f} s", "storm_cpu")
    for i in range(max(len(r["steps"]) for r in reports)):

        def step(r, i=i):
            if i >= len(r["steps"]):
                return "—"
            s = r["steps"][i]
            return f"{s['p50']:.0f} / {s['p99']:.0f} ms"

        rates = {r["steps"][i]["rate"] for r in reports if i < len(r["steps"])}
        row(f"gifts at {'/'.join(map(str, rates))}/s: p50 / p99 to the last viewer", step, None)
        row(
            "  viewer-gifts lost",
            lambda r, i=i: str(r["steps"][i]["lost"]) if i < len(r["steps"]) else "—",
            None,
        )
        row(
            "  frames/s delivered",
            lambda r, i=i: f"{r['steps'][i]['frames_s']:,.0f}" if i < len(r["steps"]) else "—",
            None,
        )
    row("seq gaps seen / resyncs", lambda r: f"{r['gaps']} / {r['resyncs']}", None)
    row("viewers dropped while watching", str, "dropped")
    row(
        "server CPU per delivered frame",
        lambda r: f"{r['cpu_gifts'] / max(r['frames'], 1) * 1e6:.1f} µs",
        None,
    )
    row("server CPU during the gifts (s each process)", lambda v: ",".join(map(str, v)),
        "cpu_each")  # fmt: skip
    row("frames delivered during the gifts", lambda v: f"{v:,}", "frames")
    row("server RSS before / idle / loaded", lambda r: "{:.0f} / {:.0f} / {:.0f} MB".format(
        *(statistics.mean(r[k]) for k in ("rss_before", "rss_idle", "rss_peak"))), None)  # fmt: skip
    row("  each viewer's share of the idle RSS", lambda r: "{:.0f} KB".format(
        (sum(r["rss_idle"]) - sum(r["rss_before"])) * 1024 / max(args.viewers, 1)), None)  # fmt: skip
    row("client processes' CPU (s each)", lambda v: ",".join(map(str, v)), "client_cpu")
    for r in reports:
        if r["failures"]:
            print(f"  {r['label']} failures: {r['failures']}")
    sustained = {}
    for r in reports:  # the last rate of the unbroken run of steps that held, from the first
        held = 0
        for s in r["steps"]:
            if not (s["p99"] <= BUDGET_MS and s["lost"] == 0):
                break
            held = s["rate"]
        sustained[r["label"]] = held
    print("highest gift rate with p99 <= 250 ms and nothing lost: "
          + ", ".join(f"{k} {v}/s" for k, v in sustained.items()))  # fmt: skip


# The servers' settings: production's as deployed (behind a proxy that terminates TLS, so no
# HTTPS redirect here; simulated payments: the bench buys no coins), or development's (DEBUG).
SETTINGS = {
    "production": {"DJANGO_SETTINGS_MODULE": "config.settings.production",
                   "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                   "DJANGO_SECURE_SSL_REDIRECT": "false", "PAYMENT_PROVIDER": "simulated"},
    "local": {"DJANGO_SETTINGS_MODULE": "config.settings.local"},
}  # fmt: skip
SESSION_COOKIE = {"production": "__Secure-sessionid", "local": "sessionid"}


def server_command(server: str, port: int) -> list[str]:
    """One server process for the site on 127.0.0.1:`port`."""
    if server == "daphne":
        return daphne_command(port)
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--ws-max-queue", "100000", "config.asgi:application"]  # fmt: skip
    # granian: one worker (its own process), no lifespan (Channels' router has none), and room
    # for every viewer (its default backpressure holds a worker to 1,024 connections).
    return [sys.executable, "-m", "granian", "--interface", "asginl", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--backpressure", "20000", "--no-access-log",
            "config.asgi:application"]  # fmt: skip


def server_pid(server: subprocess.Popen, kind: str) -> int:
    """The process that runs the application (granian's worker, not granian)."""
    if kind != "granian":
        return server.pid
    return int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])


def giftcast_setup(settings: str) -> tuple[int, str]:
    """A live stream and one signed-in, verified fan with coins: (stream id, session cookie)."""
    from gift_throughput import setup as gift_setup
    from websocket_gifts import sessions

    pools, streams = gift_setup(10_000, 1)
    fan = pools[0][0]
    return streams[0], f"{SESSION_COOKIE[settings]}={sessions([fan])[fan]}"


def main() -> int:
    args = bench_args(__doc__, extra=[
        ("--viewers", {"type": int, "default": 1000}),
        ("--join-rate", {"type": float, "default": 200.0}),
        ("--gift-rate", {"type": float, "default": 10.0}),
        ("--ramp", {"action": "store_true"}),
        ("--client-procs", {"type": int, "default": 4}),
        ("--client", {"choices": ["lean", "websockets"], "default": "lean",
                      "help": "the viewers' websocket client: frames cut from the bytes (lean), or the websockets library's"}),
        ("--server", {"choices": ["daphne", "uvicorn", "granian"], "default": "daphne"}),
        ("--server-procs", {"type": int, "default": 1,
                            "help": "Giftcast server processes behind the one room (viewers split over them)"}),
        ("--settings", {"choices": sorted(SETTINGS), "default": "production"}),
        ("--skip-bare", {"action": "store_true"}),
        ("--burst-ms", {"type": int, "default": None,
                        "help": "the server's ROOM_GIFT_BURST_MS (default: the setting's; 0 sends each gift alone)"}),
        ("--server-log", {"default": "", "help": "write the server's output to this file"}),
        ("--profile", {"default": "", "help": "sample the first server process with py-spy while the gifts go, into this file (raw)"}),
        REDIS_OPTION,
    ])  # fmt: skip
    if args.server_procs < 1 or args.client_procs % args.server_procs:
        raise SystemExit(
            "--client-procs must be a multiple of --server-procs (viewers split evenly)"
        )
    if args.redis == "none":
        raise SystemExit("the big room is measured on Redis, as deployed (--redis URL)")
    import importlib.util

    if args.server != "daphne" and importlib.util.find_spec(args.server) is None:
        raise SystemExit(f"--server {args.server} needs it: .venv/bin/pip install {args.server}")
    if args.profile and not Path(sys.executable).with_name("py-spy").exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    _raise_open_files()
    redis_use(args.redis)
    reports = []
    if not args.skip_bare:
        port = free_port()
        bare = mp.Process(target=bare_server, args=(port,))
        bare.start()
        wait_port(port)
        try:
            reports.append(
                run(
                    "bare websockets", [bare.pid], [f"ws://127.0.0.1:{port}/ws/live/1/"], None, args
                )
            )
        finally:
            bare.terminate()
            bare.join()

    stream, cookie = giftcast_setup(args.settings)
    from django.conf import settings
    from django.db import connection

    connection.close()
    env = {
        **os.environ,
        "GIFT_RATE_LIMIT": RATE,
        "ROOM_FRAME_RATE_LIMIT": RATE,
        "REDIS_URL": os.environ["BENCH_REDIS_URL"],
        **SETTINGS[args.settings],
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }  # the key the fan's session was signed with

    if args.burst_ms is not None:
        env["ROOM_GIFT_BURST_MS"] = str(args.burst_ms)
    log = open(args.server_log, "w") if args.server_log else subprocess.DEVNULL  # noqa: SIM115
    servers, ports = [], []
    try:
        for _ in range(args.server_procs):
            port = free_port()
            command = server_command(args.server, port)
            servers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log,
                                            preexec_fn=_raise_open_files))  # fmt: skip
            ports.append(port)
        for port in ports:
            wait_port(port)
        pids = [server_pid(server, args.server) for server in servers]
        urls = [f"ws://127.0.0.1:{port}/ws/live/{stream}/" for port in ports]
        label = f"Giftcast ({args.server}{f' ×{len(pids)}' if len(pids) > 1 else ''})"
        reports.append(run(label, pids, urls, cookie, args, profile=args.profile))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
    show(reports, args)
    drop_databases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
