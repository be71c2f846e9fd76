"""Helpers shared by the benchmarks: the PostgreSQL server, pgbench, machine CPU use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
            psql(f"DROP DATABASE IF EXISTS {db}")
