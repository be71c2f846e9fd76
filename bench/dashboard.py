#!/usr/bin/env python
"""The creator dashboard and the earnings CSV for a creator with a big history, on PostgreSQL.

Builds one creator with 100,000 gifts over 90 days (about 60 streams, 2,000 fans, some gifts
anonymous, some fans hidden from rankings, a few payouts paid and one open), then requests
`/creator/` and `/creator/earnings.csv` through Django's test client signed in as that
creator, and prints the server time per request (median and p95), the queries per request,
and for the CSV the rows streamed and the peak Python memory while streaming them.

The dashboard reads the tallies `earnings_rollup` keeps (run here once over the whole
history, timed) plus what came after the last roll-up: 1,000 gifts to a stream live now, sent
through the real gift service after it.

The gifts are written in bulk with SQL, shaped as the gift service writes them: one `gift`
transaction per gift (fan wallet −coins, coins spent +coins, diamonds issued −diamonds,
creator earnings +diamonds) and its SentGift row, after one recharge-shaped transaction per
fan that funds exactly what the fan spends plus 1,000 coins. The payouts go through the real
payout services. `ledger_audit` must be clean before anything is measured.

    .venv/bin/python bench/dashboard.py [--gifts 100000] [--requests 30] [--csv-runs 3]
                                        [--explain]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432). It creates
and drops its own database (giftcast_bench_dashboard; BENCH_KEEP=1 keeps it). No Redis: the
in-process cache is used. Figures are wall-clock times on a possibly busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import tracemalloc
import uuid

from _common import SERVER, psql  # noqa: E402

DB = "giftcast_bench_dashboard"
TARGET_MS = 150
FANS, STREAMS, DAYS = 2000, 60, 90
PAID_PAYOUTS, PAYOUT_DIAMONDS, OPEN_PAYOUT_DIAMONDS = 3, 250_000, 100_000
TAIL_GIFTS, TAIL_FANS = 1_000, 250  # sent after the last roll-up, to a stream live now


def django_setup() -> None:
    """As _common.django_setup, on this benchmark's own database, with DEBUG off."""
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DJANGO_DEBUG"] = "0"  # as deployed: no query log, cached templates
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


# One statement per step, run in order; %(name)s are the parameters built in `history`.
HISTORY_SQL = [
    "SELECT setseed(0.42)",
    # Streams over the last 90 days, 1 to 3 hours each, the last ending about a day ago.
    """
    UPDATE livestreams_stream s
       SET started_at = now() - interval '90 days' + (x.i * interval '1.5 days')
                        + (random() * interval '4 hours'),
           ended_at = NULL
      FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM livestreams_stream
             WHERE creator_id = %(creator)s) x
     WHERE s.id = x.id
    """,
    """
    UPDATE livestreams_stream
       SET ended_at = started_at + interval '1 hour' + random() * interval '2 hours',
           peak_viewers = 50 + floor(random() * 3000)
     WHERE creator_id = %(creator)s
    """,
    """
    CREATE TEMP TABLE bench_stream AS
    SELECT row_number() OVER (ORDER BY id) - 1 AS i, id, started_at, ended_at
      FROM livestreams_stream WHERE creator_id = %(creator)s
    """,
    """
    CREATE TEMP TABLE bench_fan AS
    SELECT row_number() OVER (ORDER BY u.id) - 1 AS i, u.id AS user_id, a.id AS account_id
      FROM accounts_user u JOIN wallet_account a ON a.owner_id = u.id AND a.purpose = 'wallet'
     WHERE u.email LIKE 'fan%%@bench.invalid'
    """,
    "CREATE TEMP TABLE bench_gift AS SELECT row_number() OVER (ORDER BY coins) - 1 AS i, id, coins "
    "FROM livestreams_gift WHERE active",
    # The gifts: some fans give far more than others, cheap gifts far more often than dear
    # ones, 5% anonymous.
    """
    CREATE TEMP TABLE bench_draw AS
    SELECT n,
           floor(%(fans)s * power(random(), 2))::int AS fan_i,
           floor(random() * %(streams)s)::int AS stream_i,
           floor((SELECT count(*) FROM bench_gift) * power(random(), 4))::int AS gift_i,
           (ARRAY[1, 1, 1, 1, 1, 1, 1, 1, 5, 10])[1 + floor(random() * 10)::int] AS quantity,
           random() < 0.05 AS anonymous,
           random() AS at
      FROM generate_series(1, %(gifts)s) n
    """,
    """
    CREATE TEMP TABLE bench_sent AS
    SELECT d.n, f.user_id AS sender_id, f.account_id, s.id AS stream_id, g.id AS gift_id,
           d.quantity, g.coins * d.quantity AS coins, (g.coins * d.quantity) / 2 AS diamonds,
           d.anonymous, s.started_at + d.at * (s.ended_at - s.started_at) AS created_at
      FROM bench_draw d
      JOIN bench_fan f ON f.i = d.fan_i
      JOIN bench_stream s ON s.i = d.stream_i
      JOIN bench_gift g ON g.i = d.gift_i
    """,
    # Every fan is funded first: exactly what they spend, plus 1,000 coins left over.
    """
    CREATE TEMP TABLE bench_fund AS
    SELECT f.user_id, f.account_id, coalesce(x.spent, 0) + 1000 AS coins,
           nextval(pg_get_serial_sequence('wallet_transaction', 'id')) AS txn
      FROM bench_fan f
      LEFT JOIN (SELECT account_id, sum(coins) AS spent FROM bench_sent GROUP BY account_id) x
        ON x.account_id = f.account_id
     ORDER BY f.i
    """,
    """
    CREATE TEMP TABLE bench_txn AS
    SELECT b.*, nextval(pg_get_serial_sequence('wallet_transaction', 'id')) AS txn,
           nextval(pg_get_serial_sequence('livestreams_sentgift', 'id')) AS sent_id
      FROM (SELECT * FROM bench_sent ORDER BY created_at, n) b
    """,
    """
    INSERT INTO wallet_transaction (id, kind, idempotency_key, fingerprint, reference, memo,
                                    created_at)
    SELECT txn, 'recharge', 'bench-fund-' || user_id, 'bench', 'recharge:bench', '',
           now() - interval '91 days'
      FROM bench_fund ORDER BY txn
    """,
    """
    INSERT INTO wallet_transaction (id, kind, idempotency_key, fingerprint, reference, memo,
                                    created_at)
    SELECT txn, 'gift', 'bench-gift-' || n, 'bench', 'gift:' || sent_id, '', created_at
      FROM bench_txn ORDER BY txn
    """,
    """
    INSERT INTO wallet_entry (transaction_id, account_id, amount)
    SELECT txn, account_id, amount FROM (
        SELECT txn, 1 AS leg, %(coins_issued)s AS account_id, -coins AS amount FROM bench_fund
        UNION ALL SELECT txn, 2, account_id, coins FROM bench_fund
        UNION ALL SELECT txn, 1, account_id, -coins FROM bench_txn
        UNION ALL SELECT txn, 2, %(coins_spent)s, coins FROM bench_txn
        UNION ALL SELECT txn, 3, %(diamonds_issued)s, -diamonds FROM bench_txn WHERE diamonds > 0
        UNION ALL SELECT txn, 4, %(earnings)s, diamonds FROM bench_txn WHERE diamonds > 0
    ) legs ORDER BY txn, leg
    """,
    "UPDATE wallet_account a SET balance = 1000 FROM bench_fan f WHERE a.id = f.account_id",
    """
    INSERT INTO livestreams_sentgift (id, stream_id, sender_id, gift_id, quantity, coins,
                                      diamonds, key, anonymous, transaction_id, created_at)
    SELECT sent_id, stream_id, sender_id, gift_id, quantity, coins, diamonds, 'bench-' || n,
           anonymous, txn, created_at
      FROM bench_txn ORDER BY sent_id
    """,
    """
    INSERT INTO livestreams_streamgifter (stream_id, sender_id, anonymous, coins)
    SELECT stream_id, sender_id, anonymous, sum(coins) FROM bench_txn
     GROUP BY stream_id, sender_id, anonymous
    """,
    # One fan in 25 opted out of rankings.
    """
    UPDATE accounts_profile p SET hide_from_rankings = true
      FROM bench_fan f WHERE p.user_id = f.user_id AND f.i %% 25 = 3
    """,
]


def history(gifts: int):
    """Migrate, then build the creator, the fans, the streams, the gifts and the payouts;
    returns the creator."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Profile, User
    from livestreams.models import Stream, StreamStatus
    from livestreams.services import gift_send, stream_start
    from payouts.models import PayoutMethod, PayoutMethodKind, PayoutStatus
    from payouts.selectors import tally_problems
    from payouts.services import earnings_rollup, payout_request, payout_transition
    from wallet.ledger import account_get, ledger_audit, ledger_rollup
    from wallet.models import SYSTEM_ACCOUNT_IDS, Account, Purpose, Unit

    call_command("migrate", verbosity=0)
    creator = User.objects.create_user("creator@bench.invalid", "!")
    Profile.objects.filter(user=creator).update(
        handle="benchcreator", display_name="Bench Creator", birth_date="1990-01-01",
        creator_exception=True,
    )  # fmt: skip
    staff = User.objects.create_user("staff@bench.invalid", "!", is_staff=True)
    fans = User.objects.bulk_create(
        [User(email=f"fan{n:04d}@bench.invalid", password="!") for n in range(FANS)]
    )
    Profile.objects.bulk_create(
        [Profile(user=fan, handle=f"fan{n:04d}", display_name=f"Fan {n}") for n, fan in enumerate(fans)]
    )  # fmt: skip
    EmailAddress.objects.bulk_create(  # senders need a verified address, as on the site
        [EmailAddress(user=fan, email=fan.email, verified=True, primary=True) for fan in fans]
    )
    Account.objects.bulk_create(
        [Account(owner=fan, unit=Unit.COIN, purpose=Purpose.WALLET) for fan in fans]
    )
    earnings = account_get(owner=creator, purpose=Purpose.EARNINGS)
    Stream.objects.bulk_create(
        [Stream(creator=creator, title=f"Evening stream {n + 1}", status=StreamStatus.ENDED)
         for n in range(STREAMS)]
    )  # fmt: skip
    params = {
        "creator": creator.pk, "fans": FANS, "streams": STREAMS, "gifts": gifts,
        "earnings": earnings.pk,
        "coins_issued": SYSTEM_ACCOUNT_IDS[Purpose.COINS_ISSUED],
        "coins_spent": SYSTEM_ACCOUNT_IDS[Purpose.COINS_SPENT],
        "diamonds_issued": SYSTEM_ACCOUNT_IDS[Purpose.DIAMONDS_ISSUED],
    }  # fmt: skip
    with connection.cursor() as cursor:
        for sql in HISTORY_SQL:
            cursor.execute(sql, params)
    report = ledger_audit()
    assert report.ok, report.problems[:5]

    # Payouts through the real services: MFA on, a PayPal method, staff approve and pay.
    creator = User.objects.get(pk=creator.pk)
    TOTP.activate(creator, generate_totp_secret())
    PayoutMethod.objects.create(
        creator=creator, kind=PayoutMethodKind.PAYPAL, paypal_email="creator@example.com"
    )
    for n in range(PAID_PAYOUTS):
        payout = payout_request(creator=creator, diamonds=PAYOUT_DIAMONDS, key=f"bench-{n}")
        payout_transition(payout_id=payout.pk, to=PayoutStatus.APPROVED, by=staff)
        payout_transition(
            payout_id=payout.pk, to=PayoutStatus.PAID, by=staff, reference=f"PP-BENCH-{n}"
        )
    payout_request(creator=creator, diamonds=OPEN_PAYOUT_DIAMONDS, key="bench-open")

    ledger_rollup()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    # The first roll-up of the whole history, while fans gift to a stream live now through
    # the real gift service (their own thread and connection), each gift timed: the fold
    # must not hold them up. Those gifts, after the roll-up's horizon, are the tail the
    # dashboard then reads as it is.
    live = stream_start(creator=creator, title="Live now")
    latencies: list[float] = []

    def gifting() -> None:
        try:
            for n in range(TAIL_GIFTS):
                t = time.perf_counter()
                gift_send(
                    sender=fans[n % TAIL_FANS], stream_id=live.pk, gift_slug="rose",
                    quantity=1, key=str(uuid.UUID(int=n + 1)), anonymous=n % 20 == 0,
                )  # fmt: skip
                latencies.append((time.perf_counter() - t) * 1000)
        finally:
            connection.close()

    sender = threading.Thread(target=gifting)
    sender.start()
    time.sleep(0.2)  # (a few gifts in before the roll-up starts)
    t0 = time.perf_counter()
    folded = earnings_rollup()
    rollup_s = time.perf_counter() - t0
    during = len(latencies)
    sender.join()
    assert len(latencies) == TAIL_GIFTS
    gifts_during = (during, percentile(latencies[:during], 0.5), max(latencies[:during]))
    ledger_rollup()
    report = ledger_audit()
    assert report.ok, report.problems[:5]
    assert not tally_problems()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return creator, report, (folded, rollup_s, gifts_during)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stream_csv(client, url: str) -> tuple[float, float, int, int]:
    """(seconds to the first row, seconds in all, rows, bytes) of one CSV download."""
    t0 = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200 and response.streaming, response
    first = None
    lines = size = 0
    for chunk in response.streaming_content:
        if first is None:
            first = time.perf_counter() - t0
        lines += chunk.count(b"\n")
        size += len(chunk)
    # (exhausting the content closed the response, as a server does)
    return first or 0.0, time.perf_counter() - t0, lines - 1, size


def measure(creator, args) -> bool:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from payouts import selectors

    client = Client()
    client.force_login(creator)
    dashboard, csv_url = reverse("payouts:dashboard"), reverse("payouts:earnings_csv")

    for _ in range(args.warmup):
        assert client.get(dashboard).status_code == 200
    times = []
    for _ in range(args.requests):
        t0 = time.perf_counter()
        response = client.get(dashboard)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response
    counts, slowest = set(), []
    for _ in range(3):
        with CaptureQueriesContext(connection) as ctx:
            client.get(dashboard)
        counts.add(len(ctx.captured_queries))
        slowest = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    median, p95 = statistics.median(times), percentile(times, 0.95)
    db_ms = sum(float(q["time"]) for q in slowest) * 1000
    print(f"/creator/ ({args.requests} requests after {args.warmup} warm-up):")
    print(
        f"  median {median:7.1f} ms   p95 {p95:7.1f} ms   min {min(times):.1f}   max {max(times):.1f}"
    )
    print(f"  queries per request: {', '.join(map(str, sorted(counts)))}; "
          f"database time of one request {db_ms:.1f} ms, slowest queries:")  # fmt: skip
    for q in slowest[:4]:
        print(f"    {float(q['time']) * 1000:6.1f} ms  {q['sql'][:150]}")
    if args.explain:
        with connection.cursor() as cursor:
            for q in slowest[:3]:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                print(f"  EXPLAIN ANALYZE {q['sql']}")
                print("\n".join("    " + row[0] for row in cursor.fetchall()))
    holds = median < TARGET_MS
    print(f"  target < {TARGET_MS} ms median: {'holds' if holds else 'MISSED'}")

    stream_csv(client, csv_url)  # warm-up
    runs = [stream_csv(client, csv_url) for _ in range(args.csv_runs)]
    with CaptureQueriesContext(connection) as ctx:
        stream_csv(client, csv_url)
    csv_queries = len(ctx.captured_queries)  # (read now: the next request resets the log)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    _, _, rows, size = stream_csv(client, csv_url)
    streamed_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    held = list(selectors.earnings_rows(creator=creator))  # for comparison: all rows at once
    listed_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del held
    total = statistics.median(r[1] for r in runs)
    print(f"/creator/earnings.csv ({args.csv_runs} downloads after 1 warm-up):")
    print(f"  total median {total:6.2f} s ({', '.join(f'{r[1]:.2f}' for r in runs)}); "
          f"first row after {statistics.median(r[0] for r in runs) * 1000:.0f} ms")  # fmt: skip
    print(f"  rows streamed {rows:,} ({size / 1e6:.1f} MB), {rows / total:,.0f} rows/s; "
          f"queries per download: {csv_queries}")  # fmt: skip
    print(f"  peak Python memory while streaming: {streamed_peak / 1e6:.1f} MB "
          f"(the same rows held in a list: {listed_peak / 1e6:.1f} MB)")  # fmt: skip
    return holds


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gifts", type=int, default=100_000, help="gifts in the creator's history")
    ap.add_argument("--requests", type=int, default=30, help="timed dashboard requests")
    ap.add_argument("--warmup", type=int, default=5, help="dashboard requests before timing")
    ap.add_argument("--csv-runs", type=int, default=3, help="timed CSV downloads")
    ap.add_argument("--explain", action="store_true",
                    help="print EXPLAIN ANALYZE of the dashboard's three slowest queries")  # fmt: skip
    args = ap.parse_args()

    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    try:
        django_setup()
        from django.db import connection

        t0 = time.time()
        creator, report, (folded, rollup_s, (during, p50, worst)) = history(args.gifts)
        print(f"setup: {args.gifts:,} gifts over {DAYS} days, {STREAMS} streams, {FANS:,} fans, "
              f"{PAID_PAYOUTS} payouts paid and 1 open; ledger_audit clean "
              f"({report.transactions:,} transactions, {report.entries:,} entries) "
              f"({time.time() - t0:.0f}s)")  # fmt: skip
        print(f"earnings_rollup of the whole history: {rollup_s:.2f} s ({folded:,} fan-stream-day "
              f"sums); {during:,} gifts sent meanwhile, median {p50:.1f} ms, slowest "
              f"{worst:.1f} ms; {TAIL_GIFTS:,} gifts from {TAIL_FANS} fans to a live stream in "
              "all, the tail after the mark read as it is")  # fmt: skip
        measure(creator, args)
        connection.close()
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
