"""The websocket's gifts (services.agift_send): on PostgreSQL with rooms on Redis every wait is
awaited on the event loop, on connections of the loop's own. The same refusals, races and
replays as gift_send, and a kept connection the server dropped is replaced."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection

from config import pgcall
from livestreams import exceptions as room_errors
from livestreams import realtime
from livestreams.models import SentGift, StreamGifter
from livestreams.services import agift_send
from tests.livestreams.factories import fan_with, live_stream
from tests.livestreams.test_gifts import REFUSALS, assert_nothing_moved, refusal_case
from tests.wallet.factories import wallet_of
from wallet import exceptions as wallet_errors
from wallet.ledger import account_balance, account_get
from wallet.models import Purpose

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not realtime.boards_kept(),
        reason="the loop's own path is for PostgreSQL with rooms on Redis (set DATABASE_URL, REDIS_URL)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("books_balance"),
]


async def _send(fan, stream, slug="rose", quantity=1, key=None):
    return await agift_send(
        sender=fan, stream_id=stream.pk, gift_slug=slug, quantity=quantity,
        key=key or str(uuid.uuid4()),
    )  # fmt: skip


@database_sync_to_async
def _setup(coins: int):
    stream, fan = live_stream(), fan_with(coins)
    fan.profile  # noqa: B018 - loaded here, as the websocket has it
    return stream, fan


@database_sync_to_async
def _balances(fan, creator) -> tuple[int, int]:
    earnings = account_get(owner=creator, purpose=Purpose.EARNINGS)
    return account_balance(wallet_of(fan)), account_balance(earnings)


@pytest.mark.parametrize(("setup", "code"), REFUSALS)
def test_refusals_change_nothing(setup, code):
    fan, stream, args = refusal_case(setup)
    before = account_balance(wallet_of(fan))
    with pytest.raises((room_errors.RoomError, wallet_errors.WalletError)) as info:
        async_to_sync(_send)(fan, stream, args["slug"], args["quantity"], args["key"])
    assert info.value.code == code
    assert_nothing_moved(fan, before)


def test_rate_limit(settings, time_machine):
    settings.GIFT_RATE_LIMIT = "2/60"
    time_machine.move_to(1_900_000_020, tick=False)  # one window throughout
    stream, fan = async_to_sync(_setup)(10)
    for _ in range(2):
        async_to_sync(_send)(fan, stream)
    with pytest.raises(room_errors.RoomError) as info:
        async_to_sync(_send)(fan, stream)
    assert info.value.code == "rate_limited"
    assert SentGift.objects.count() == 2


@pytest.mark.asyncio
async def test_a_gift_is_posted_and_announced(room_frames):
    stream, fan = await _setup(100)
    result = await _send(fan, stream, "perfume", 2)
    assert (result.replayed, result.balance, result.sent.coins) == (False, 60, 40)
    assert result.event["combo"] == 2 and result.event["ranking"]["coins"] == 40
    assert await _balances(fan, stream.creator) == (60, 20)
    (frame,) = await database_sync_to_async(room_frames.of)(stream.pk)
    assert frame == {**result.event, "seq": frame["seq"]}
    again = await _send(fan, stream, "perfume", 2, key=result.sent.key)
    assert again.replayed and again.sent.pk == result.sent.pk and again.balance == 60


@pytest.mark.asyncio
async def test_fifty_racing_gifts_from_a_fan_who_can_pay_for_twenty(settings):
    settings.GIFT_RATE_LIMIT = "1000/10"
    stream, fan = await _setup(100)  # Finger Heart is 5 coins: exactly 20 fit
    results = await asyncio.gather(
        *(_send(fan, stream, "finger-heart") for _ in range(50)), return_exceptions=True
    )
    ok = [r for r in results if hasattr(r, "sent")]
    refused = [r for r in results if isinstance(r, wallet_errors.InsufficientFunds)]
    assert (len(ok), len(refused)) == (20, 30), [r for r in results if not hasattr(r, "sent")][:3]
    assert await _balances(fan, stream.creator) == (0, 100 // 2)  # the exact share, raced
    assert await database_sync_to_async(SentGift.objects.count)() == 20
    gifter = await database_sync_to_async(StreamGifter.objects.get)(stream=stream, sender=fan)
    assert gifter.coins == 100
    # Every connection went back to the loop's pool, and there were never more than its size.
    pool = pgcall._loops[asyncio.get_running_loop()]["default"]
    assert 1 < len(pool.idle) <= pgcall.ASYNC_CONNECTIONS


@pytest.mark.asyncio
async def test_one_key_sent_ten_times_at_once_is_one_gift():
    stream, fan = await _setup(100)
    key = str(uuid.uuid4())
    results = await asyncio.gather(*(_send(fan, stream, "perfume", key=key) for _ in range(10)))
    assert len({r.sent.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await _balances(fan, stream.creator) == (80, 10)


@pytest.mark.asyncio
async def test_a_kept_connection_the_server_dropped_is_replaced():
    stream, fan = await _setup(100)
    await _send(fan, stream)
    (kept,) = pgcall._loops[asyncio.get_running_loop()]["default"].idle
    pid = kept.info.backend_pid

    @database_sync_to_async
    def terminate():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):  # until the server has let it go
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                if not cursor.fetchone()[0]:
                    return
        raise AssertionError("the backend did not go")

    await terminate()
    result = await _send(fan, stream)
    assert not result.replayed and result.balance == 98
    (fresh,) = pgcall._loops[asyncio.get_running_loop()]["default"].idle
    assert fresh.info.backend_pid != pid
    assert await database_sync_to_async(SentGift.objects.count)() == 2
