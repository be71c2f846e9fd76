"""Helpers shared by the benchmarks: the PostgreSQL server, pgbench, machine CPU use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
BENCH_DB, PGBENCH_DB = "giftcast_bench", "giftcast_pgbench"


def psql(sql: str, db: str = "postgres") -> None:
    url = urlsplit(SERVER)
    subprocess.run(
        ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
         "-d", db, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True,
    )  # fmt: skip


def django_setup() -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Redis only where a benchmark asks for it (BENCH_REDIS_URL), never the developer's own.
    if os.environ.get("BENCH_REDIS_URL"):
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    else:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)


def _cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    def __enter__(self):
        self.start = _cpu()
        return self

    def __exit__(self, *exc):
        busy, total = _cpu()
        self.busy = (busy - self.start[0]) / max(total - self.start[1], 1)


def pgbench(seconds: int, clients: int) -> float:
    url = urlsplit(SERVER)
    conn = [
        "-h",
        url.hostname or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
    ]
    out = subprocess.run(
        ["pgbench", *conn, "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 2)), "-T", str(seconds), PGBENCH_DB],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def pgbench_init() -> None:
    url = urlsplit(SERVER)
    subprocess.run(
        ["pgbench", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
         "-i", "-q", "-s", "10", PGBENCH_DB],
        check=True, capture_output=True,
    )  # fmt: skip


def fresh_databases() -> None:
    for db in (BENCH_DB, PGBENCH_DB):
        psql(f"DROP DATABASE IF EXISTS {db}")
        psql(f"CREATE DATABASE {db}")
    pgbench_init()


def drop_databases() -> None:
    if os.environ.get("BENCH_KEEP") != "1":
        for db in (BENCH_DB, PGBENCH_DB):
            # FORCE: a server the benchmark just stopped may not have left PostgreSQL yet.
            psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def compare_with_pgbench(
    *, what: str, work, pools: list, targets: list[int], args, title: str
) -> int:
    """Measure pgbench, then `work` (run_workers) over all `targets` and over the first alone
    (hot), then pgbench again; print the figures and the ledger audit. Returns the exit status."""
    seconds, clients = args.seconds, args.clients

    def run(some: list[int]) -> float:
        return run_workers(work, pools, some, seconds=seconds, processes=args.processes, what=what)

    with CpuMeter() as cpu_pg:
        pg_before = pgbench(seconds, clients)
    with CpuMeter() as cpu_spread:
        spread = run(targets)
    with CpuMeter() as cpu_hot:
        hot = run(targets[:1])
    pg_after = pgbench(seconds, clients)
    pg = (pg_before + pg_after) / 2

    django_setup()
    from django.db import connection

    from wallet.ledger import ledger_audit

    report = ledger_audit()
    audit = "clean" if report.ok else "PROBLEMS: " + "; ".join(report.problems[:3])
    print(title)
    print(f"pgbench tpcb-like TPS          {pg:10.0f}   (before {pg_before:.0f}, after {pg_after:.0f}; "
          f"CPU busy {cpu_pg.busy:.0%})")  # fmt: skip
    print(
        f"{what}/s, 1,000 creators   {spread:10.0f}   {spread / pg:5.2f}x pgbench  (CPU busy {cpu_spread.busy:.0%})"
    )
    print(
        f"{what}/s, one hot creator  {hot:10.0f}   {hot / pg:5.2f}x pgbench  (CPU busy {cpu_hot.busy:.0%})"
    )
    print(f"ledger_audit after the run:    {audit}")
    connection.close()
    drop_databases()
    return 0 if report.ok else 1


def _process(work, pools, targets, seconds: float, start_at: float, queue) -> None:
    """A server-like process: its share of the workers as threads, the way an ASGI server runs
    Django's sync code in a thread pool (or, for an async `work`, as tasks on one event loop).
    Reports (operations, process CPU seconds, errors)."""
    import asyncio
    import inspect
    import threading

    django_setup()
    from django.db import connection

    results, failures = [0] * len(pools), []
    deadline = start_at + seconds

    def thread(slot: int, pool) -> None:
        try:
            results[slot] = work(pool, targets, deadline)
        except Exception as exc:  # noqa: BLE001 - reported to the parent instead of hanging it
            failures.append(repr(exc))
        finally:
            connection.close()

    async def tasks() -> None:
        """Async workers: tasks on one event loop, as a websocket server runs them."""
        done = await asyncio.gather(*(work(pool, targets, deadline) for pool in pools),
                                    return_exceptions=True)  # fmt: skip
        for slot, result in enumerate(done):
            if isinstance(result, BaseException):
                failures.append(repr(result))
            else:
                results[slot] = result

    threads = [threading.Thread(target=thread, args=(i, pool)) for i, pool in enumerate(pools)]
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = time.process_time()
    if inspect.iscoroutinefunction(work):
        asyncio.run(tasks())
    else:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    queue.put((sum(results), time.process_time() - cpu0, failures))


def run_workers(
    work, pools: list, targets: list, *, seconds: int, processes: int, what: str
) -> float:
    """Run `work(pool, targets, deadline) -> operations` in one thread per pool (each its own
    database connection; an async `work` as one task per pool), spread over `processes`
    processes; returns operations per second and prints the Python CPU each one cost."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 6  # let every process import Django first
    procs = [
        ctx.Process(target=_process, args=(work, pools[i::processes], targets, seconds, start_at, queue))
        for i in range(processes)
    ]  # fmt: skip
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    failures = [f for _, _, fs in results for f in fs]
    if failures:
        raise SystemExit(f"{len(failures)} worker(s) failed, first: {failures[0]}")
    total = sum(done for done, _, _ in results)
    cpu = sum(used for _, used, _ in results)
    print(f"  {len(targets):,} target(s): {total / seconds:,.0f} {what}/s, "
          f"{cpu / max(total, 1) * 1e6:.0f} µs of Python CPU each")  # fmt: skip
    return total / seconds


REDIS_OPTION = ("--redis", {
    "default": "redis://127.0.0.1:6379/15",
    "help": "Redis for cache and channel layer, as deployed beyond one machine (a database "
            "of its own: it is flushed first), or `none` for the one-process default",
})  # fmt: skip


def redis_use(url: str) -> None:
    """Run this benchmark, its worker processes and servers on Redis at `url` (or none)."""
    if url == "none":
        os.environ.pop("BENCH_REDIS_URL", None)
        return
    import redis

    redis.Redis.from_url(url).flushdb()
    os.environ["BENCH_REDIS_URL"] = url


def free_port() -> int:
    """A TCP port nothing listens on, for a server a benchmark starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daphne_command(port: int) -> list[str]:
    """The command line of a daphne server for the site on 127.0.0.1:`port`."""
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "config.asgi:application",
    ]


def wait_port(port: int, seconds: float = 30) -> None:
    """Until something accepts connections on `port` (a server a benchmark started)."""
    import socket

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listening on port {port}")


def bench_args(doc: str, extra: list[tuple[str, dict]] = ()):
    """The options the benchmarks take (plus `extra` ones: (flag, add_argument options))."""
    import argparse

    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument(
        "--processes", type=int, default=os.cpu_count() or 2,
        help="server processes the clients are spread over, as threads (default: one per core)",
    )  # fmt: skip
    for flag, options in extra:
        ap.add_argument(flag, **options)
    return ap.parse_args()
