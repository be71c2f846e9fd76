"""Rooms while Redis can't be reached: a join is accepted and closed 4503 (the client
reconnects with backoff), a gift or chat line is refused with an error frame before anything
is charged, a gift committed just before Redis went is still confirmed to its sender, and
when Redis is back the process's rooms resync and work again without a restart."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
import redis
from channels.db import database_sync_to_async

from livestreams import realtime
from livestreams.models import ChatMessage, SentGift
from livestreams.realtime import boards, hub, presence, scripts
from tests import redis_down
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import fan_with, live_stream
from tests.livestreams.test_consumer import _communicator, _until
from wallet.ledger import account_balance, account_get
from wallet.models import Purpose

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _client_retries(code: int) -> bool:
    """Whether the room client reconnects on this close (static/js/gifts.js: all but 4403 and
    4404), and daphne can send it (autobahn sends 1000 and 3000–4999 only)."""
    return code not in (4403, 4404) and (code == 1000 or 3000 <= code <= 4999)


@pytest.fixture
def redis_unreachable(settings):
    yield from redis_down.unreachable(settings)


@pytest.fixture
def own_redis(settings):
    yield from redis_down.own_running(settings)


@pytest.fixture
def room():
    stream = live_stream()
    fan = fan_with(1000)
    viewer = UserFactory()
    return stream, fan, viewer


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(hub, "RETRY_FIRST", 0.05)
    monkeypatch.setattr(hub, "RETRY_MAX", 0.2)


async def _closed(comm) -> int:
    """The close code of a connection the server accepted and then closed."""
    connected, _ = await comm.connect(timeout=10)
    assert connected  # accepted: a refused handshake reaches a browser as a bare 1006
    message = await comm.receive_output(timeout=10)
    assert message["type"] == "websocket.close"
    return message["code"]


def _coins(fan) -> int:
    return account_balance(account_get(owner=fan, purpose=Purpose.WALLET))


async def _gift(comm, slug: str, quantity: int = 1) -> dict:
    key = str(uuid.uuid4())
    await comm.send_json_to({"type": "gift.send", "gift": slug, "quantity": quantity, "key": key})
    for _ in range(20):
        frame = await comm.receive_json_from(timeout=10)
        if frame.get("key") == key:
            return frame
    raise AssertionError("no answer to the gift")


@pytest.mark.usefixtures("redis_unreachable")
async def test_a_join_is_closed_for_the_client_to_retry_and_leaves_no_viewer(room, caplog):
    stream, _, viewer = room
    with caplog.at_level(logging.WARNING):
        for who in (None, viewer):
            comm = await _communicator(stream.pk, who)
            code = await _closed(comm)
            assert code == 4503 and _client_retries(code)  # "try again later"
            await comm.disconnect()
    assert stream.pk not in hub._rooms and not presence._present  # no ghost to renew
    assert any("room joins refused" in r.getMessage() for r in caplog.records)


async def test_gifts_and_chat_are_refused_while_redis_is_away_and_nothing_is_charged(
    room, own_redis, books_balance
):
    stream, fan, _ = room
    sender = await _communicator(stream.pk, fan)
    assert (await sender.connect())[0]
    assert (await _until(sender, "state"))["balance"] == 1000
    own_redis.stop()

    refused = await _gift(sender, "rose", 3)
    assert refused["type"] == "error" and refused["code"] == "unavailable"
    await sender.send_json_to({"type": "chat.send", "text": "anyone there?"})
    assert (await _until(sender, "error"))["code"] == "unavailable"
    await sender.disconnect()

    assert await database_sync_to_async(_coins)(fan) == 1000
    assert await SentGift.objects.acount() == 0 and await ChatMessage.objects.acount() == 0


async def test_a_sync_while_redis_is_away_is_answered_and_the_connection_stays(room, own_redis):
    stream, fan, _ = room
    comm = await _communicator(stream.pk, fan)
    assert (await comm.connect())[0]
    await _until(comm, "state")
    own_redis.stop()
    await comm.send_json_to({"type": "sync"})
    refused = await _until(comm, "error")
    assert (refused["code"], refused["frame"], refused["retry_after"]) == ("unavailable", "sync", 2)
    own_redis.start()
    await comm.send_json_to({"type": "sync"})  # asked again when told: the state comes
    assert (await _until(comm, "state"))["balance"] == 1000
    await comm.disconnect()


async def test_the_room_recovers_when_redis_is_back_without_a_restart(
    room, own_redis, quick_retries, caplog
):
    stream, fan, viewer = room
    other = await database_sync_to_async(live_stream)()
    watcher, sender, leaver = (
        await _communicator(stream.pk, viewer), await _communicator(stream.pk, fan),
        await _communicator(other.pk),
    )  # fmt: skip
    for comm in (watcher, sender, leaver):
        assert (await comm.connect())[0]
        await _until(comm, "state")

    own_redis.stop()
    late = await _communicator(stream.pk)
    assert await _closed(late) == 4503
    await late.disconnect()
    await leaver.disconnect()  # its room's subscription can't be dropped now: dropped later

    own_redis.start()  # empty, as a Redis restarted without persistence comes back
    with caplog.at_level(logging.WARNING):
        assert (await _until(watcher, "resync"))["type"] == "resync"
    assert any("room subscription back" in r.getMessage() for r in caplog.records)
    await watcher.send_json_to({"type": "sync"})
    state = await _until(watcher, "state")  # seq as the new Redis counts it
    channels = set(hub._subscriber.pubsub.channels)
    assert channels == {realtime.room_channel(stream.pk).encode()}

    newcomer = await _communicator(stream.pk)
    assert (await newcomer.connect())[0]
    assert (await _until(newcomer, "state"))["status"] == "live"
    ok = await _gift(sender, "rose", 2)
    assert ok["type"] == "gift.ok" and ok["balance"] == 998
    for comm in (watcher, newcomer):
        gift = await _until(comm, "gift")
        assert (gift["quantity"], gift["ranking"]["coins"]) == (2, 2) and gift["seq"] > state["seq"]
    for comm in (watcher, sender, newcomer):
        await comm.disconnect()


async def test_the_first_gift_after_redis_restarts_goes_through(room, own_redis, books_balance):
    """Each pooled connection to the old Redis is replaced when next taken, not failed."""
    stream, fan, _ = room
    sender = await _communicator(stream.pk, fan)
    assert (await sender.connect())[0]
    await _until(sender, "state")
    assert (await _gift(sender, "rose"))["type"] == "gift.ok"
    own_redis.stop()
    own_redis.start()
    await asyncio.sleep(0.2)  # the old connections' end is seen
    ok = await _gift(sender, "perfume")
    assert ok["type"] == "gift.ok" and ok["balance"] == 1000 - 1 - 20
    await sender.disconnect()


async def test_a_gift_committed_as_redis_goes_is_confirmed_and_the_board_rebuilt(
    room, own_redis, monkeypatch, caplog, books_balance
):
    """Redis answers the gift's rate limit, then is gone before its broadcast: the gift is
    paid, so its sender is told (gift.ok) and the room's board, which missed it, is rebuilt
    from the database at the next gift instead of leaving that fan's line short."""
    stream, fan, viewer = room
    other_fan = await database_sync_to_async(fan_with)(1000)
    comms = [await _communicator(stream.pk, who) for who in (fan, other_fan, viewer)]
    for comm in comms:
        assert (await comm.connect())[0]
        await _until(comm, "state")
    sender, other_sender, watcher = comms
    assert (await _gift(sender, "rose"))["type"] == "gift.ok"

    real_script, real_ascript = boards._script, boards._ascript

    def gone(backend, lua):
        if lua is scripts.GIFT:
            raise redis.exceptions.ConnectionError("Connection reset by peer")
        return real_script(backend, lua)

    def agone(backend, lua):
        if lua is scripts.GIFT:

            async def refused(*args):
                raise redis.exceptions.ConnectionError("Connection reset by peer")

            return refused
        return real_ascript(backend, lua)

    monkeypatch.setattr(boards, "_script", gone)
    monkeypatch.setattr(boards, "_ascript", agone)
    with caplog.at_level(logging.WARNING):
        ok = await _gift(sender, "perfume")
    assert ok["type"] == "gift.ok" and ok["balance"] == 1000 - 1 - 20  # paid, and told
    assert any("committed, its frame not sent" in r.getMessage() for r in caplog.records)
    assert await SentGift.objects.acount() == 2
    monkeypatch.setattr(boards, "_script", real_script)
    monkeypatch.setattr(boards, "_ascript", real_ascript)

    assert (await _gift(other_sender, "finger-heart"))["type"] == "gift.ok"
    frames = [await _until(watcher, "gift") for _ in range(2)]
    assert [f["gift"] for f in frames] == ["rose", "finger-heart"]  # the perfume never came
    ranking = frames[-1]["ranking"]
    assert ranking["coins"] == 26 and [line["coins"] for line in ranking["top"]] == [21, 5]
    for comm in comms:
        await comm.disconnect()
    await asyncio.sleep(0)
