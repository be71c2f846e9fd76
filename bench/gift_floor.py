#!/usr/bin/env python
"""The floor under bench/gift_throughput.py: only a gift's unavoidable I/O, from Python.

The send-gift service makes three calls per gift: the rate-limit script on Redis, the
`gift_post` database function, and the gift script that counts combo and seq, updates the
room's board and publishes the frame. Here 8 workers (threads, one process per core, as in
gift_throughput) make exactly those three calls with the same scripts and function, through
the drivers' lowest public layers: libpq's prepared call and redis-py's script call. There is
no Django, no validation and no frame beyond a small JSON object. What this reaches against
pgbench is the most any Python service of this design can reach on the machine; the gap to
gift_throughput is what the service itself costs.

    .venv/bin/python bench/gift_floor.py [--seconds 15] [--clients 8] [--history 100000]
                                         [--processes N] [--redis URL]
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid

from _common import (  # noqa: E402
    BENCH_DB,
    REDIS_OPTION,
    SERVER,
    bench_args,
    compare_with_pgbench,
    redis_use,
)
from gift_throughput import setup

GIFT_POST = (
    b"SELECT sent_id, replayed, balance, gift_id, gift_name, gift_artwork, gift_coins, coins, "
    b"diamonds, txn_id, created_at, gifter_id, gifter_coins "
    b"FROM gift_post($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)


def floor(fans: list[int], streams: list[int], deadline: float) -> int:
    """One worker: rate limit, gift_post, gift script; until the deadline."""
    import psycopg
    import redis
    from django.conf import settings

    from livestreams import realtime
    from wallet.models import SYSTEM_ACCOUNT_IDS, Purpose

    client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    rate, gift_script, seed_script = (
        client.register_script(script.source)
        for script in (realtime.COUNT, realtime.GIFT, realtime.SEED)
    )
    with psycopg.connect(f"{SERVER}/{BENCH_DB}", autocommit=True) as conn:
        pgconn = conn.pgconn
        pgconn.prepare(b"floor_gift_post", GIFT_POST)
        fixed = [str(settings.CREATOR_SHARE).encode(), str(SYSTEM_ACCOUNT_IDS[Purpose.COINS_SPENT]).encode(),
                 str(SYSTEM_ACCOUNT_IDS[Purpose.DIAMONDS_ISSUED]).encode()]  # fmt: skip
        rng = random.Random()
        done = 0
        while time.time() < deadline:
            fan, stream = rng.choice(fans), rng.choice(streams)
            rate(*realtime.COUNT.bind(counters=[f"floor:rl:{fan}"], steps=[1, 2]))
            result = pgconn.exec_prepared(b"floor_gift_post", [
                str(fan).encode(), str(stream).encode(), b"rose", b"1", str(uuid.uuid4()).encode(), b"f", *fixed,
            ])  # fmt: skip
            if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
                raise RuntimeError(result.error_message.decode())
            sent_id, gifter_id, gifter_coins = (
                result.get_value(0, i).decode() for i in (0, 11, 12)
            )
            frame = json.dumps({"type": "gift", "id": int(sent_id), "gift": "rose", "quantity": 1,
                                "sender": {"handle": f"bench{fan}"}}, separators=(",", ":"))  # fmt: skip
            room, channel = f"floor:room:{stream}", realtime.room_channel(stream)
            named = {
                "combo_key": f"{room}:combo:{fan}", "seq_key": f"{room}:seq",
                "board": f"{room}:board", "labels": f"{room}:labels", "step": 1,
                "combo_ttl": realtime.COMBO_SECONDS, "member": f"{int(gifter_id):012d}",
                "coins": gifter_coins, "label": json.dumps({"handle": f"bench{fan}"}),
                "size": realtime.RANKING_SIZE, "ttl": realtime.BOARD_SECONDS, "frame": frame,
                "channel": channel,
            }  # fmt: skip
            answer = gift_script(*realtime.GIFT.bind(**named))
            if not answer:  # a room's first gift here: its board is marked whole
                seed_script(*realtime.SEED.bind(
                    **{k: v for k, v in named.items() if k not in ("member", "coins", "label")},
                    gifters=[],
                ))  # fmt: skip
            done += 1
    return done


def main() -> int:
    args = bench_args(__doc__, extra=[REDIS_OPTION])
    if args.redis == "none":
        raise SystemExit("the floor is measured on Redis, as deployed (--redis URL)")
    redis_use(args.redis)
    pools, streams = setup(args.history, args.clients)
    return compare_with_pgbench(
        what="gifts",
        work=floor,
        pools=pools,
        targets=streams,
        args=args,
        title=f"the floor: three calls a gift, no Django; clients: {args.clients}, {args.seconds}s per run",
    )


if __name__ == "__main__":
    sys.exit(main())
