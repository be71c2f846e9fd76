#!/usr/bin/env python
"""Gifts per second through the send-gift service on PostgreSQL, beside pgbench in the same run.

8 worker processes call livestreams.services.gift_send (validation, ledger transfer, the
SentGift row, the after-commit broadcast on the in-memory channel layer), first spread over
1,000 live creators, then all to one hot creator.

    .venv/bin/python bench/gift_throughput.py [--seconds 15] [--clients 8] [--history 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
import uuid

from _common import CpuMeter, django_setup, drop_databases, pgbench  # noqa: E402
from ledger_throughput import setup as ledger_setup

os.environ.setdefault("GIFT_RATE_LIMIT", "1000000/1")  # measure the path, not the limiter


def setup(history: int, clients: int) -> tuple[list[list[int]], list[int]]:
    pools, creators = ledger_setup(history, clients)
    from accounts.models import Profile
    from livestreams.models import Stream

    everyone = creators + [pk for pool in pools for pk in pool]
    Profile.objects.bulk_create([Profile(user_id=pk, handle=f"bench{pk}") for pk in everyone])

    Stream.objects.bulk_create([Stream(creator_id=pk, title=f"Bench {pk}") for pk in creators])
    streams = list(Stream.objects.order_by("creator_id").values_list("pk", flat=True))
    from django.db import connection

    connection.close()
    return pools, streams


def _worker(fans: list[int], streams: list[int], seconds: float, start_at: float, queue) -> None:
    django_setup()
    from accounts.models import User
    from livestreams.services import gift_send

    users = list(User.objects.filter(pk__in=fans).select_related("profile"))
    slugs = ["rose", "finger-heart", "perfume", "doughnut", "paper-crane"]
    rng = random.Random()
    done = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    try:
        while time.time() < deadline:
            gift_send(sender=rng.choice(users), stream_id=rng.choice(streams), gift_slug=rng.choice(slugs),
                      quantity=rng.randint(1, 3), key=str(uuid.uuid4()))  # fmt: skip
            done += 1
    except Exception as exc:  # report instead of leaving the parent waiting forever
        print(f"worker failed: {exc!r}", file=sys.stderr)
        done = -1
    queue.put(done)


def run_gifts(pools: list[list[int]], streams: list[int], seconds: int) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 5
    procs = [
        ctx.Process(target=_worker, args=(pool, streams, seconds, start_at, queue))
        for pool in pools
    ]
    for p in procs:
        p.start()
    counts = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    if min(counts) < 0:
        raise SystemExit("a worker failed; see above")
    return sum(counts) / seconds


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--history", type=int, default=100_000)
    args = ap.parse_args()
    pools, streams = setup(args.history, args.clients)
    with CpuMeter() as cpu_pg:
        pg_before = pgbench(args.seconds, args.clients)
    with CpuMeter() as cpu_spread:
        spread = run_gifts(pools, streams, args.seconds)
    with CpuMeter() as cpu_hot:
        hot = run_gifts(pools, streams[:1], args.seconds)
    pg_after = pgbench(args.seconds, args.clients)
    pg = (pg_before + pg_after) / 2

    django_setup()
    from wallet.ledger import ledger_audit

    report = ledger_audit()
    print(
        f"clients: {args.clients}, {args.seconds}s per run, {len(streams):,} live streams, {args.history:,} past gifts"
    )
    print(
        f"pgbench tpcb-like TPS          {pg:10.0f}   (before {pg_before:.0f}, after {pg_after:.0f}; CPU busy {cpu_pg.busy:.0%})"
    )
    print(
        f"gifts/s, 1,000 creators        {spread:10.0f}   {spread / pg:5.2f}x pgbench  (CPU busy {cpu_spread.busy:.0%})"
    )
    print(
        f"gifts/s, one hot creator       {hot:10.0f}   {hot / pg:5.2f}x pgbench  (CPU busy {cpu_hot.busy:.0%})"
    )
    print(
        f"ledger_audit after the run:    {'clean' if report.ok else 'PROBLEMS: ' + '; '.join(report.problems[:3])}"
    )
    from django.db import connection

    connection.close()
    drop_databases()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
