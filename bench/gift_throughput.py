#!/usr/bin/env python
"""Gifts per second through the send-gift service on PostgreSQL, beside pgbench in the same run.

8 workers (threads in one process per core, each its own database connection, as pgbench's
8 clients) call livestreams.services.gift_send: validation, rate limit, the one database call
(room checks, ledger transfer, SentGift row, the sender's running total) and the
after-commit broadcast (combo, seq and the room's ranking board in one Redis script, then
the gift and ranking frames published on the Redis channel layer), as a deployment beyond
one machine runs it; first spread over 1,000 live creators, then all to one hot creator.
`--redis none` runs the single-process default instead (in-process cache and channel
layer, the ranking read from the database per gift). `--async` makes the workers tasks on
one event loop per process, calling agift_send (the websocket's form of the service).

    .venv/bin/python bench/gift_throughput.py [--seconds 15] [--clients 8] [--history 100000]
                                              [--processes N] [--redis URL|none] [--async]
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid

from _common import REDIS_OPTION, bench_args, compare_with_pgbench, redis_use  # noqa: E402
from ledger_throughput import setup as ledger_setup

os.environ.setdefault("GIFT_RATE_LIMIT", "1000000/1")  # measure the path, not the limiter


def setup(history: int, clients: int) -> tuple[list[list[int]], list[int]]:
    pools, creators = ledger_setup(history, clients)
    from allauth.account.models import EmailAddress
    from django.db import connection

    from accounts.models import Profile, User
    from livestreams.models import Stream

    everyone = creators + [pk for pool in pools for pk in pool]
    Profile.objects.bulk_create([Profile(user_id=pk, handle=f"bench{pk}") for pk in everyone])
    fans = User.objects.filter(pk__in=[pk for pool in pools for pk in pool])
    EmailAddress.objects.bulk_create(  # senders need a verified address, as on the site
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in fans]
    )

    Stream.objects.bulk_create([Stream(creator_id=pk, title=f"Bench {pk}") for pk in creators])
    streams = list(Stream.objects.order_by("creator_id").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the new profiles and streams, as a live database would be
    connection.close()
    return pools, streams


def gifts(fans: list[int], streams: list[int], deadline: float) -> int:
    """One worker: gifts from its fans to the given streams until the deadline."""
    from accounts.models import User
    from livestreams.services import gift_send

    users = list(User.objects.filter(pk__in=fans).select_related("profile"))
    slugs = ["rose", "finger-heart", "perfume", "doughnut", "paper-crane"]
    rng = random.Random()
    done = 0
    while time.time() < deadline:
        gift_send(sender=rng.choice(users), stream_id=rng.choice(streams), gift_slug=rng.choice(slugs),
                  quantity=rng.randint(1, 3), key=str(uuid.uuid4()))  # fmt: skip
        done += 1
    return done


async def agifts(fans: list[int], streams: list[int], deadline: float) -> int:
    """One async worker: the same gifts through agift_send (the websocket's form of the
    service), awaited on the process's event loop."""
    from channels.db import database_sync_to_async

    from accounts.models import User
    from livestreams.services import agift_send

    users = await database_sync_to_async(
        lambda: list(User.objects.filter(pk__in=fans).select_related("profile"))
    )()
    slugs = ["rose", "finger-heart", "perfume", "doughnut", "paper-crane"]
    rng = random.Random()
    done = 0
    while time.time() < deadline:
        await agift_send(sender=rng.choice(users), stream_id=rng.choice(streams),
                         gift_slug=rng.choice(slugs), quantity=rng.randint(1, 3),
                         key=str(uuid.uuid4()))  # fmt: skip
        done += 1
    return done


def main() -> int:
    use_async = ("--async", {"action": "store_true", "dest": "use_async",
                             "help": "workers as tasks on one event loop per process, calling agift_send"})  # fmt: skip
    args = bench_args(__doc__, extra=[REDIS_OPTION, use_async])
    redis_use(args.redis)
    pools, streams = setup(args.history, args.clients)
    return compare_with_pgbench(
        what="gifts",
        work=agifts if args.use_async else gifts,
        pools=pools,
        targets=streams,
        args=args,
        title=f"clients: {args.clients}, {args.seconds}s per run, {len(streams):,} live streams, {args.history:,} past gifts",
    )


if __name__ == "__main__":
    sys.exit(main())
