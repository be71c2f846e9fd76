"""The creator's share is exact to the diamond per fan per stream (DESIGN §2 "Rates"): a fan's
gifts in one stream earn floor(total coins × CREATOR_SHARE) diamonds in all, named and
anonymous sends together, however the gifts were split, replayed or raced."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from livestreams.models import SentGift, StreamGifter
from livestreams.services import diamonds_earned, diamonds_for, gift_send
from tests.accounts.factories import UserFactory
from tests.helpers import postgres_only, run_threads
from tests.livestreams.factories import fan_with, live_stream
from tests.wallet.factories import wallet_of
from wallet.ledger import account_balance, account_get, ledger_audit
from wallet.models import Entry, Purpose, Transaction, TransactionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _send(fan, stream, slug="rose", quantity=1, key=None, anonymous=False):
    return gift_send(
        sender=fan, stream_id=stream.pk, gift_slug=slug, quantity=quantity,
        key=key or str(uuid.uuid4()), anonymous=anonymous,
    )  # fmt: skip


def _diamonds(user) -> int:
    return account_balance(account_get(owner=user, purpose=Purpose.EARNINGS))


def _ledger_by_fan_and_stream() -> dict[tuple[int, str], tuple[int, int]]:
    """(fan id, stream reference) -> (coins the fan's gifts cost, diamonds they earned), read
    from the ledger's entries alone: the fan's wallet debits and the creator's EARNINGS."""
    totals: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    gifts = Entry.objects.filter(transaction__kind=TransactionKind.GIFT)
    entries = list(gifts.select_related("account", "transaction"))
    fan_of = {
        e.transaction_id: e.account.owner_id for e in entries if e.account.purpose == Purpose.WALLET
    }
    for e in entries:
        pair = totals[(fan_of[e.transaction_id], e.transaction.reference)]
        if e.account.purpose == Purpose.WALLET:
            pair[0] -= e.amount
        elif e.account.purpose == Purpose.EARNINGS:
            pair[1] += e.amount
    return {key: (coins, diamonds) for key, (coins, diamonds) in totals.items()}


def test_two_one_coin_roses_earn_the_creator_a_diamond():
    stream = live_stream()
    fan = fan_with(10)
    first, second = _send(fan, stream), _send(fan, stream)
    assert (first.sent.diamonds, second.sent.diamonds) == (0, 1)
    assert _diamonds(stream.creator) == 1
    # The first Rose moved coins only; the second carries the diamond.
    entries = [Transaction.objects.get(pk=s.sent.transaction_id).entries.count() for s in (first, second)]  # fmt: skip
    assert entries == [2, 4]


@pytest.mark.parametrize(
    ("before", "coins", "earned"),
    [(0, 1, 0), (1, 1, 1), (60, 1, 0), (61, 1, 1), (63, 5, 3), (0, 29_999, 14_999), (29_999, 1, 1)],
)
def test_a_gift_earns_the_step_it_makes_in_the_fans_floored_share(before, coins, earned):
    assert diamonds_earned(before=before, coins=coins) == earned
    assert diamonds_earned(before=before, coins=coins) == diamonds_for(before + coins) - diamonds_for(before)  # fmt: skip


def test_named_and_anonymous_gifts_of_a_fan_count_as_one_total():
    stream = live_stream()
    fan = fan_with(10)
    _send(fan, stream)  # 1 coin: 0
    anonymous = _send(fan, stream, anonymous=True)  # 2 coins in all: 1
    assert anonymous.sent.diamonds == 1
    totals = dict(StreamGifter.objects.filter(stream=stream).values_list("anonymous", "coins"))
    assert totals == {False: 1, True: 1}  # the rankings still keep them apart


def test_each_stream_and_each_fan_has_a_total_of_its_own():
    first, second = live_stream(), live_stream()
    fan, other = fan_with(10), fan_with(10)
    _send(fan, first)
    assert _send(fan, second).sent.diamonds == 0  # the first stream's Rose does not count here
    assert _send(other, first).sent.diamonds == 0  # nor another fan's
    assert _send(fan, first).sent.diamonds == 1


def test_a_replayed_key_is_what_it_first_was_and_adds_nothing():
    """The replay comes after the fan's total moved on: priced again it would differ, and the
    ledger would take it for another request under the same key."""
    stream = live_stream()
    fan = fan_with(10)
    _send(fan, stream)
    key = str(uuid.uuid4())
    first = _send(fan, stream, key=key)  # 2 coins: earns 1
    _send(fan, stream)  # 3 coins
    again = _send(fan, stream, key=key)
    assert again.replayed and again.sent.pk == first.sent.pk and again.sent.diamonds == 1
    assert again.balance == 7 and account_balance(wallet_of(fan)) == 7
    assert StreamGifter.objects.get(stream=stream, sender=fan).coins == 3
    assert _send(fan, stream).sent.diamonds == 1  # 4 coins: 2 in all
    assert _diamonds(stream.creator) == 2


# ----------------------------------------------------------------------------- any sequence

GIFTS = {"rose": 1, "finger-heart": 5, "perfume": 20, "doughnut": 30, "paper-crane": 99}

new_gift = st.tuples(
    st.just("send"),
    st.integers(0, 2),  # fan
    st.integers(0, 1),  # stream
    st.sampled_from(sorted(GIFTS)),
    st.integers(1, 12),  # quantity
    st.booleans(),  # anonymous
)
replay = st.tuples(st.just("replay"), st.integers(0, 10**6))  # of an earlier send, by index


@examples(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(st.one_of(new_gift, new_gift, replay), min_size=1, max_size=30),
    share=st.sampled_from(["0.5", "0.5", "0.37", "0.333", "1"]),
)
def test_any_gift_sequence_earns_the_floored_share_per_fan_per_stream(steps, share):
    """Random fans, streams, gifts, quantities and anonymity, with replays of earlier keys, on
    the path this database uses (gift_post on PostgreSQL, the ORM on SQLite)."""
    with override_settings(CREATOR_SHARE=Decimal(share), GIFT_RATE_LIMIT="10000/10"):
        streams = [live_stream(owner=UserFactory()) for _ in range(2)]
        fans = [fan_with(100_000) for _ in range(3)]
        sent: list[tuple] = []  # (fan, stream, slug, quantity, key, anonymous) of each send
        charged = defaultdict(int)  # (fan id, stream id) -> coins
        for step in steps:
            if step[0] == "send":
                _, fan, stream, slug, quantity, anonymous = step
                fan, stream, key = fans[fan], streams[stream], str(uuid.uuid4())
                result = _send(fan, stream, slug, quantity=quantity, key=key, anonymous=anonymous)
                assert not result.replayed
                sent.append((fan, stream, slug, quantity, key, anonymous))
                charged[(fan.pk, stream.pk)] += GIFTS[slug] * quantity
            elif sent:
                fan, stream, slug, quantity, key, anonymous = sent[step[1] % len(sent)]
                before = account_balance(wallet_of(fan))
                result = _send(fan, stream, slug, quantity=quantity, key=key, anonymous=anonymous)
                assert result.replayed and result.balance == before
                assert account_balance(wallet_of(fan)) == before

        ledger = _ledger_by_fan_and_stream()
        gifts = SentGift.objects.filter(stream__in=streams)
        assert gifts.count() == len(sent)
        for (fan_id, stream_id), coins in charged.items():
            expected = int(coins * Decimal(share) // 1)  # floor: both are positive
            assert ledger[(fan_id, f"stream:{stream_id}")] == (coins, expected)
            mine = gifts.filter(sender_id=fan_id, stream_id=stream_id)
            assert mine.aggregate(c=Sum("coins"), d=Sum("diamonds")) == {"c": coins, "d": expected}
            running = StreamGifter.objects.filter(stream_id=stream_id, sender_id=fan_id)
            assert running.aggregate(c=Sum("coins"))["c"] == coins
        for stream in streams:
            shares = [d for (_, ref), (_, d) in ledger.items() if ref == f"stream:{stream.pk}"]
            assert _diamonds(stream.creator) == sum(shares)
        assert ledger_audit().ok


# ----------------------------------------------------------------------------- races


BOTH_PATHS = pytest.mark.parametrize("fast", [True, False], ids=["gift_post", "orm"])


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@BOTH_PATHS
def test_roses_racing_from_one_fan_earn_the_exact_share(settings, fast):
    """40 threads, each with its own connection, send one fan's 1-coin Roses to one stream at
    once, named and anonymous mixed: two running-total rows, one share."""
    settings.GIFT_RATE_LIMIT = "10000/10"
    settings.USE_DATABASE_FUNCTIONS = fast
    stream = live_stream()
    fan = fan_with(1_000)
    results = run_threads(
        40, lambda i: [_send(fan, stream, anonymous=bool(i % 2)) for _ in range(3)]
    )
    assert all(isinstance(r, list) for r in results), [r for r in results if not isinstance(r, list)][:3]  # fmt: skip
    assert account_balance(wallet_of(fan)) == 1_000 - 120
    assert _diamonds(stream.creator) == 60
    assert SentGift.objects.filter(stream=stream).aggregate(d=Sum("diamonds"))["d"] == 60
    assert sum(StreamGifter.objects.filter(stream=stream).values_list("coins", flat=True)) == 120
    assert ledger_audit().ok
    connection.close()


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@BOTH_PATHS
def test_replays_racing_their_first_send_are_replays(settings, fast):
    """Threads i and i+20 send the same keys at once (a client resending on reconnect): one of
    each pair is charged, the other replays it, priced as it was, and adds nothing."""
    settings.GIFT_RATE_LIMIT = "10000/10"
    settings.USE_DATABASE_FUNCTIONS = fast
    stream = live_stream()
    fan = fan_with(1_000)
    keys = [[str(uuid.uuid4()) for _ in range(3)] for _ in range(20)]

    def roses(i: int) -> list:
        anonymous = bool(i % 2)
        return [_send(fan, stream, key=key, anonymous=anonymous) for key in keys[i % 20]]

    results = run_threads(40, roses)
    assert all(isinstance(r, list) for r in results), [r for r in results if not isinstance(r, list)][:3]  # fmt: skip
    sends = [s for r in results for s in r]
    assert sum(not s.replayed for s in sends) == 60 and len({s.sent.pk for s in sends}) == 60
    assert account_balance(wallet_of(fan)) == 1_000 - 60
    assert _diamonds(stream.creator) == 30
    assert sum(StreamGifter.objects.filter(stream=stream).values_list("coins", flat=True)) == 60
    assert ledger_audit().ok
    connection.close()
