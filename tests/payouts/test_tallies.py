"""The dashboard's tallies: what `earnings_rollup` folds, read with what came after it, says
exactly what the gift records say, whenever the roll-up last ran, through reversals and races."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import defaultdict

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from livestreams.models import SentGift, Stream
from payouts import selectors
from payouts.models import FanTally, GiftReversal, GiftTally, TallyMark
from payouts.services import earnings_rollup, gifts_reverse_for_clawback
from tests.helpers import postgres_only, run_threads
from tests.livestreams.factories import creator, fan_with, live_stream
from tests.payouts.factories import send, sent_at
from wallet.demo import paid_recharge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

NOW = dt.datetime.now(dt.UTC)


def _days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def expected(star) -> dict:
    """The dashboard's figures computed the plain way, from every SentGift not reversed."""
    gifts = SentGift.objects.filter(stream__creator=star, reversal__isnull=True)
    by_day, streams, fans, fans_30 = defaultdict(int), {}, defaultdict(int), defaultdict(int)
    since = NOW.date() - dt.timedelta(days=29)
    for g in gifts:
        day = g.created_at.astimezone(dt.UTC).date()
        by_day[day] += g.diamonds
        figures = streams.setdefault(g.stream_id, [0, 0, set()])
        figures[0] += g.quantity
        figures[1] += g.diamonds
        figures[2].add(g.sender_id)
        fans[(g.sender_id, g.anonymous)] += g.coins
        if day >= since:
            fans_30[(g.sender_id, g.anonymous)] += g.coins
    window = [NOW.date() - dt.timedelta(days=n) for n in range(29, -1, -1)]

    def top(totals):  # coins of the top five (sender, anonymous) lines
        return sorted((c for c in totals.values() if c > 0), reverse=True)[:5]

    return {
        "days": [by_day.get(day, 0) for day in window],
        "previous": sum(
            v for day, v in by_day.items() if window[0] - dt.timedelta(30) <= day < window[0]
        ),
        "streams": {pk: (n, d, len(s)) for pk, (n, d, s) in streams.items()},
        "top": top(fans),
        "top_30": top(fans_30),
    }


def shown(star) -> dict:
    """The same figures as the dashboard reads them: tallies plus tail."""
    records = selectors.gift_records(creator=star)
    daily = selectors.daily_earnings(records=records, now=NOW)
    streams = list(selectors.stream_history(creator=star))
    selectors.stream_figures(records=records, streams=streams)
    return {
        "days": [d.diamonds for d in daily.days],
        "previous": daily.previous_total,
        "streams": {
            s.pk: (s.gift_count, s.diamonds, s.gifter_count) for s in streams if s.gift_count
        },
        "top": [s.coins for s in selectors.top_supporters(records=records)],
        "top_30": [s.coins for s in selectors.top_supporters(records=records, days=30, now=NOW)],
    }


@pytest.fixture
def history():
    """A creator, two past streams (40 and 12 days ago) and one live, five fans (one of them
    also anonymously), Roses and dearer gifts; the first fan's recharge to refund later."""
    star = creator()
    fans = [fan_with(200_000) for _ in range(4)]
    buyer = fan_with(0)
    recharge = paid_recharge(user=buyer, session_id="cs_sim_tally_test")
    for days in (40, 12):
        stream = live_stream(star)
        for n, fan in enumerate(fans):
            send(fan, stream, "rose", quantity=n + 1)
            send(fan, stream, "galaxy")
        sent_at(stream, _days_ago(days))
        Stream.objects.filter(pk=stream.pk).update(
            status="ended",
            started_at=_days_ago(days),
            ended_at=_days_ago(days) + dt.timedelta(hours=2),
        )
    live = live_stream(star)
    send(fans[0], live, "rose", anonymous=True)
    recharge.refresh_from_db()
    return star, fans, buyer, recharge, live


def test_before_and_after_a_rollup_the_figures_are_the_gift_records(history):
    star, fans, buyer, recharge, live = history
    assert shown(star) == expected(star)  # nothing rolled up: all tail
    assert earnings_rollup() > 0
    assert SentGift.objects.filter(pk__gt=TallyMark.objects.get().gifts_through).count() == 0
    assert shown(star) == expected(star)  # all tallies
    assert selectors.tally_problems() == []

    # After the roll-up: more gifts to the live stream, some from a fan new to this creator.
    send(fans[1], live, "rose", quantity=7)
    send(buyer, live, "money-gun")
    send(buyer, live, "rose", anonymous=True)
    assert shown(star) == expected(star)
    assert earnings_rollup() > 0
    assert shown(star) == expected(star)
    assert earnings_rollup() == 0  # nothing new: nothing folded twice
    assert shown(star) == expected(star)
    assert selectors.tally_problems() == []


def test_a_rollup_in_small_batches_folds_the_same(history):
    star, fans, buyer, recharge, live = history
    gift = send(buyer, live, "galaxy")
    gifts_reverse_for_clawback(recharge=recharge, coins=1_000)
    assert GiftReversal.objects.get().sent_gift_id == gift.sent.pk
    folded = earnings_rollup(batch=2)  # many transactions of two ids each
    mark = TallyMark.objects.get()
    assert mark.gifts_through == SentGift.objects.order_by("-pk").first().pk
    assert mark.reversals_through == GiftReversal.objects.get().pk
    assert folded > 0 and selectors.tally_problems() == []
    assert shown(star) == expected(star)
    assert earnings_rollup(batch=2) == 0


def test_reversals_count_against_the_tallies_their_gifts_went_into(history):
    star, fans, buyer, recharge, live = history
    rolled = send(buyer, live, "galaxy")  # folded below, then reversed
    earnings_rollup()
    tail = send(buyer, live, "money-gun")  # sent after the roll-up, then reversed
    before = shown(star)
    reversed_ = gifts_reverse_for_clawback(recharge=recharge, coins=2_500)
    assert {r.sent_gift_id for r in reversed_} == {rolled.sent.pk, tail.sent.pk}
    after = shown(star)
    assert after == expected(star) and after != before
    assert after["streams"][live.pk][2] == 1  # the buyer's gifts are gone, and so are they
    earnings_rollup()
    assert shown(star) == expected(star)
    assert GiftTally.objects.get(stream_id=live.pk, sender=buyer).coins == 0
    assert selectors.tally_problems() == []


def test_the_check_finds_a_tally_that_differs_from_the_gift_records(history):
    star, fans, *_ = history
    call_command("earnings_rollup", "--check")
    FanTally.objects.filter(creator=star, sender=fans[2], anonymous=False).update(coins=1)
    problems = selectors.tally_problems()
    assert len(problems) == 1 and f"({star.pk}, {fans[2].pk}, False)" in problems[0]
    with pytest.raises(CommandError, match="1 tally difference"):
        call_command("earnings_rollup", "--check")


def test_the_dashboard_page_reads_the_same_before_and_after_a_rollup(history, client):
    star, *_ = history
    client.force_login(star)

    def page() -> str:  # (without what differs per response: the CSRF token, CSP nonces)
        text = client.get("/creator/").content.decode()
        return re.sub(r'(csrfmiddlewaretoken" value|nonce)="[^"]*"', "", text)

    before = page()
    earnings_rollup()
    assert page() == before


# ----------------------------------------------------------------------------- races


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rollups_racing_gifts_and_each_other_fold_every_gift_exactly_once(settings):
    settings.GIFT_RATE_LIMIT = "100000/10"
    star = creator()
    stream = live_stream(star)
    fans = [fan_with(100_000) for _ in range(3)]
    stop = threading.Event()

    def work(i: int):
        if i < 3:  # a fan sending Roses
            for _ in range(40):
                send(fans[i], stream, "rose", quantity=1 + i)
            return "sent"
        folded = 0
        while not stop.is_set():  # two roll-ups running over and over, side by side
            folded += earnings_rollup()
        return folded

    results: list = []
    runner = threading.Thread(target=lambda: results.extend(run_threads(5, work)))
    runner.start()
    # The fans finish; then the roll-ups stop.
    while SentGift.objects.count() < 120 and runner.is_alive():
        threading.Event().wait(0.05)
    stop.set()
    runner.join(timeout=120)
    assert results[:3] == ["sent"] * 3, results
    assert all(isinstance(r, int) for r in results[3:]), results
    earnings_rollup()
    assert selectors.tally_problems() == []
    assert {t.sender_id: t.coins for t in FanTally.objects.filter(creator=star)} == {
        fans[i].pk: 40 * (1 + i) for i in range(3)
    }
    assert shown(star) == expected(star)
    assert GiftReversal.objects.count() == 0
    connection.close()
