#!/usr/bin/env python
"""Ledger transfers per second on PostgreSQL, beside pgbench's tpcb-like TPS in the same run.

A transfer is gift-shaped: fan coin debit (guarded), coins-spent credit, diamonds-issued
debit, creator diamond credit, one transaction row. 8 concurrent workers (each its own
database connection, as pgbench's 8 clients), spread over 1,000 creators and then all to one
creator, on tables with realistic history. The workers are threads in one process per core,
the way an ASGI server runs Django's sync code; `--processes 8` gives each its own process.
Each run also prints the Python CPU spent per transfer.

    .venv/bin/python bench/ledger_throughput.py [--seconds 15] [--clients 8] [--history 100000]
                                                [--processes N]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432) and pgbench.
It creates and drops its own databases (giftcast_bench, giftcast_pgbench).
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from urllib.parse import urlsplit

from _common import (  # noqa: E402
    SERVER,
    bench_args,
    compare_with_pgbench,
    django_setup,
    fresh_databases,
)

FANS_PER_CLIENT = 64
CREATORS = 1000


def setup(history: int, clients: int) -> tuple[list[list[int]], list[int]]:
    fresh_databases()
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from wallet.ledger import OwnerLeg, transfer_post
    from wallet.models import Purpose, TransactionKind

    call_command("migrate", verbosity=0)
    fan_count = FANS_PER_CLIENT * clients
    User.objects.bulk_create(
        [User(email=f"fan{n}@bench.invalid", password="!") for n in range(fan_count)]
        + [User(email=f"creator{n}@bench.invalid", password="!") for n in range(CREATORS)],
        batch_size=2000,
    )
    fans = list(
        User.objects.filter(email__startswith="fan").order_by("pk").values_list("pk", flat=True)
    )
    creators = list(
        User.objects.filter(email__startswith="creator").order_by("pk").values_list("pk", flat=True)
    )
    for pk in fans:
        transfer_post(
            kind=TransactionKind.RECHARGE,
            idempotency_key=f"fund-{pk}",
            reference="bench",
            legs=[
                OwnerLeg(None, Purpose.COINS_ISSUED, -(10**12)),
                OwnerLeg(pk, Purpose.WALLET, 10**12),
            ],
        )
    # Realistic history, written by the same database function, in one statement.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
              SELECT wallet_post('gift', 'hist-' || g, 'x', 'gift:hist', '',
                ARRAY[NULL, -2, -4, NULL]::bigint[],
                ARRAY[f, NULL, NULL, c]::bigint[],
                ARRAY['wallet','coins_spent','diamonds_issued','earnings']::text[],
                ARRAY['COIN','COIN','DIAMOND','DIAMOND']::text[],
                ARRAY[-(2 + g %% 97), 2 + g %% 97, -((2 + g %% 97) / 2), (2 + g %% 97) / 2]::bigint[],
                ARRAY[true, false, false, false], true)
              FROM (SELECT g, (%s::bigint[])[1 + g %% %s] AS f, (%s::bigint[])[1 + g %% %s] AS c
                    FROM generate_series(1, %s) AS g) s
            ) t
            """,
            [fans, len(fans), creators, len(creators), history],
        )
        cursor.execute("ANALYZE")
    connection.close()
    return [fans[i::clients] for i in range(clients)], creators


def transfers(fans: list[int], creators: list[int], deadline: float) -> int:
    """One worker: gift-shaped transfers until the deadline; returns how many."""
    from wallet.ledger import OwnerLeg, transfer_post
    from wallet.models import Purpose, TransactionKind

    rng = random.Random()
    prefix = uuid.uuid4().hex[:8]
    done = 0
    while time.time() < deadline:
        coins = rng.randint(2, 200)
        transfer_post(
            kind=TransactionKind.GIFT,
            idempotency_key=f"{prefix}-{done}",
            reference="gift:bench",
            legs=[
                OwnerLeg(rng.choice(fans), Purpose.WALLET, -coins),
                OwnerLeg(None, Purpose.COINS_SPENT, coins),
                OwnerLeg(None, Purpose.DIAMONDS_ISSUED, -(coins // 2)),
                OwnerLeg(rng.choice(creators), Purpose.EARNINGS, coins // 2),
            ],
        )
        done += 1
    return done


def main() -> int:
    args = bench_args(__doc__)

    t0 = time.time()
    pools, creators = setup(args.history, args.clients)
    print(f"setup: {args.history:,} past gifts, {len(creators):,} creators, "
          f"{sum(map(len, pools)):,} fans ({time.time() - t0:.0f}s)")  # fmt: skip

    return compare_with_pgbench(
        what="transfers",
        work=transfers,
        pools=pools,
        targets=creators,
        args=args,
        title=f"clients: {args.clients}, {args.seconds}s per run, {args.history:,} past gifts, PostgreSQL at {urlsplit(SERVER).hostname}",
    )


if __name__ == "__main__":
    sys.exit(main())
