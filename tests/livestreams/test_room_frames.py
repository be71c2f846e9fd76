"""Frames in through the real ASGI application: strictly typed, bounded, limited, and never
a dropped connection or a ledger change for a frame the room cannot read."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from livestreams.models import ChatMessage, SentGift
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import fan_with, live_stream
from tests.livestreams.test_consumer import _communicator, _until
from tests.livestreams.test_frames import JSON_VALUES, NEAR_FRAMES
from wallet.models import Transaction

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


@pytest.fixture
def room():
    return live_stream(), fan_with(1000)


def _ledger() -> tuple[int, int]:
    return Transaction.objects.count(), SentGift.objects.count()


async def _joined(stream_id, user=None, client=None):
    comm = await _communicator(stream_id, user)
    if client:
        comm.scope["client"] = client
    connected, _ = await comm.connect()
    assert connected
    await _until(comm, "state")
    return comm


async def _answer(comm) -> dict:
    """The next frame for this viewer alone (room events such as `viewers` skipped)."""
    for _ in range(10):
        frame = await comm.receive_json_from(timeout=3)
        if "seq" not in frame or frame["type"] == "state":
            return frame
    raise AssertionError("no answer")


async def test_a_string_is_not_a_boolean_and_sends_nothing(room):
    stream, fan = room
    comm = await _joined(stream.pk, fan)
    key = str(uuid.uuid4())
    await comm.send_json_to(
        {"type": "gift.send", "gift": "rose", "quantity": 1, "key": key, "anonymous": "false"}
    )
    error = await _answer(comm)
    assert (error["type"], error["code"], error["key"]) == ("error", "bad_frame", key)
    assert await database_sync_to_async(SentGift.objects.count)() == 0
    # The same key, well typed, is a first send: nothing was recorded against it.
    await comm.send_json_to({"type": "gift.send", "gift": "rose", "key": key})
    assert (await _answer(comm))["type"] == "gift.ok"
    gift = await database_sync_to_async(SentGift.objects.get)()
    assert gift.anonymous is False
    await comm.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "gift.send", "gift": "ro\x00se", "key": "k"},
        {"type": "chat.send", "text": "hi\x00there"},
        {"type": "moderate", "action": "ban", "handle": "a\x00b"},
        {"type": "gift.send\x00"},
    ],
)
async def test_a_nul_gets_an_error_frame_and_the_connection_stays(room, frame):
    stream, fan = room
    comm = await _joined(stream.pk, fan)
    await comm.send_json_to(frame)
    error = await _answer(comm)
    assert error["type"] == "error" and error["code"] in ("bad_frame", "unknown_type")
    await comm.send_json_to({"type": "chat.send", "text": "still here"})
    assert (await _until(comm, "chat"))["text"] == "still here"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1
    await comm.disconnect()


async def test_a_connection_over_its_frame_budget_is_refused_then_closed(room, settings):
    settings.ROOM_FRAME_RATE_LIMIT = "5/60"
    stream, _ = room
    comm = await _joined(stream.pk)
    for _ in range(5):
        await comm.send_json_to({"type": "chat.send", "text": "hi"})
        assert (await _answer(comm))["code"] == "auth_required"
    for _ in range(5):  # over the budget: refused without being acted on
        await comm.send_json_to({"type": "chat.send", "text": "hi"})
        assert (await _answer(comm))["code"] == "rate_limited"
    await comm.send_json_to({"type": "sync"})  # twice the budget: closed
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4429}
    # Another connection has its own budget.
    other = await _joined(stream.pk)
    await other.send_json_to({"type": "sync"})
    assert (await _answer(other))["type"] == "state"
    await other.disconnect()


async def test_syncs_are_limited_per_address_across_connections(room, settings):
    """Four visitors' sockets from one address share one sync budget; past it each is told
    when to ask again, and a signed-in fan elsewhere is not held back."""
    settings.ROOM_SYNC_RATE_LIMIT = "6/60"
    stream, fan = room
    sockets = [await _joined(stream.pk, client=("203.0.113.9", 4000 + i)) for i in range(4)]
    answers = []
    for i in range(12):
        await sockets[i % 4].send_json_to({"type": "sync"})
        answers.append(await _answer(sockets[i % 4]))
    assert [a["type"] for a in answers[:6]] == ["state"] * 6
    for refusal in answers[6:]:
        assert (refusal["type"], refusal["code"], refusal["frame"]) == (
            "error",
            "rate_limited",
            "sync",
        )
        assert 1 <= refusal["retry_after"] <= 60
    elsewhere = await _joined(stream.pk, client=("198.51.100.7", 5000))
    await elsewhere.send_json_to({"type": "sync"})
    assert (await _answer(elsewhere))["type"] == "state"
    signed_in = await _joined(stream.pk, fan, client=("203.0.113.9", 4100))
    await signed_in.send_json_to({"type": "sync"})
    assert (await _answer(signed_in))["type"] == "state"
    for comm in [*sockets, elsewhere, signed_in]:
        await comm.disconnect()


async def test_an_unknown_stream_is_closed_with_4404():
    comm = await _communicator(999_999)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4404}


@examples(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payloads=st.lists(
        NEAR_FRAMES.map(json.dumps) | st.text(max_size=200) | JSON_VALUES.map(json.dumps),
        min_size=1,
        max_size=30,
    )
)
async def test_fuzzed_frames_never_drop_the_connection_nor_move_the_ledger(payloads, settings):
    settings.ROOM_FRAME_RATE_LIMIT = "100000/10"
    stream = await database_sync_to_async(live_stream)()
    broke = await database_sync_to_async(UserFactory)()  # no coins: no gift can be paid
    before = await database_sync_to_async(_ledger)()
    comm = await _joined(stream.pk, broke)
    for payload in payloads:
        await comm.send_input({"type": "websocket.receive", "text": payload})
    await comm.send_json_to({"type": "sync"})
    for _ in range(len(payloads) * 3 + 10):  # every frame answered or let be; then the state
        frame = await comm.receive_json_from(timeout=5)
        assert frame["type"] != "websocket.close"
        if frame["type"] == "state":
            break
    else:
        raise AssertionError("the connection stopped answering")
    assert await database_sync_to_async(_ledger)() == before
    await comm.disconnect()
