"""The room websocket through the real ASGI application (auth, Origin check, channel layer)."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from livestreams.models import ChatMessage, RoomBan, SentGift
from livestreams.services import room_ban
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import fan_with, live_stream

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _communicator(stream_id: int, user=None, origin: bytes = b"http://localhost:8000"):
    headers = [(b"origin", origin), (b"host", b"localhost:8000")]
    if user is not None:
        session = await database_sync_to_async(_session)(user)
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(application, f"/ws/live/{stream_id}/", headers=headers)


async def _until(comm, frame_type: str, limit: int = 10) -> dict:
    for _ in range(limit):
        frame = await comm.receive_json_from(timeout=3)
        if frame["type"] == frame_type:
            return frame
    raise AssertionError(f"no {frame_type} frame")


@pytest.fixture
def room():
    stream = live_stream()
    fan = fan_with(1000)
    viewer = UserFactory()
    fan.handle = fan.profile.handle  # read here: the async tests must not query lazily
    return stream, fan, viewer


async def test_anonymous_visitor_watches_but_cannot_send(room):
    stream, _, _ = room
    comm = await _communicator(stream.pk)
    connected, _ = await comm.connect()
    assert connected
    state = await _until(comm, "state")
    assert state["status"] == "live" and "balance" not in state and state["viewers"] >= 1
    await comm.send_json_to(
        {"type": "gift.send", "gift": "rose", "quantity": 1, "key": str(uuid.uuid4())}
    )
    error = await _until(comm, "error")
    assert error["code"] == "auth_required"
    await comm.send_json_to({"type": "chat.send", "text": "hi"})
    assert (await _until(comm, "error"))["code"] == "auth_required"
    await comm.disconnect()


async def test_gift_reaches_every_viewer_and_the_sender_gets_gift_ok(room):
    stream, fan, viewer = room
    sender = await _communicator(stream.pk, fan)
    watcher = await _communicator(stream.pk, viewer)
    assert (await sender.connect())[0] and (await watcher.connect())[0]
    state = await _until(sender, "state")
    assert state["balance"] == 1000
    await _until(watcher, "state")
    from tests.livestreams.test_room_joins import peak_when_announced

    assert await peak_when_announced(stream.pk, 2) == 2  # remembered for the stream's summary
    key = str(uuid.uuid4())
    await sender.send_json_to({"type": "gift.send", "gift": "rose", "quantity": 3, "key": key})
    ok = await _until(sender, "gift.ok")
    assert ok == {"type": "gift.ok", "key": key, "balance": 997, "replayed": False}
    gift = await _until(watcher, "gift")
    assert (gift["gift"], gift["quantity"], gift["coins"], gift["big"]) == ("rose", 3, 3, False)
    assert gift["sender"]["handle"] == fan.handle and isinstance(gift["seq"], int)
    ranking = gift["ranking"]
    assert ranking["top"][0]["handle"] == fan.handle and ranking["coins"] == 3

    # Resending the same key (a retry after a dropped connection) charges nothing.
    await sender.send_json_to({"type": "gift.send", "gift": "rose", "quantity": 3, "key": key})
    again = await _until(sender, "gift.ok")
    assert again["balance"] == 997 and again["replayed"] is True
    assert await database_sync_to_async(SentGift.objects.count)() == 1
    await sender.disconnect()
    await watcher.disconnect()


async def test_chat_is_broadcast_with_increasing_seq(room):
    stream, fan, viewer = room
    talker = await _communicator(stream.pk, fan)
    watcher = await _communicator(stream.pk, viewer)
    await talker.connect()
    await watcher.connect()
    await _until(watcher, "state")
    await talker.send_json_to({"type": "chat.send", "text": "<b>hello</b>"})
    await talker.send_json_to({"type": "chat.send", "text": "second"})
    first = await _until(watcher, "chat")
    second = await _until(watcher, "chat")
    assert first["text"] == "<b>hello</b>"  # delivered as text; the client renders it as text
    assert second["seq"] > first["seq"]
    assert await database_sync_to_async(ChatMessage.objects.count)() == 2
    await talker.disconnect()
    await watcher.disconnect()


async def test_bad_frames_get_error_frames_and_the_connection_stays_open(room):
    stream, fan, _ = room
    comm = await _communicator(stream.pk, fan)
    await comm.connect()
    await _until(comm, "state")
    await comm.send_to(text_data="this is not json")
    assert (await _until(comm, "error"))["code"] == "bad_frame"
    await comm.send_json_to({"no": "type"})
    assert (await _until(comm, "error"))["code"] == "bad_frame"
    await comm.send_json_to({"type": "dance"})
    assert (await _until(comm, "error"))["code"] == "unknown_type"
    await comm.send_json_to(
        {"type": "gift.send", "gift": "rose", "quantity": 0, "key": str(uuid.uuid4())}
    )
    assert (await _until(comm, "error"))["code"] == "bad_quantity"
    await comm.send_json_to(
        {"type": "gift.send", "gift": "lion", "quantity": 1, "key": str(uuid.uuid4())}
    )
    assert (await _until(comm, "error"))["code"] == "insufficient_funds"
    await comm.send_json_to({"type": "chat.send", "text": "x" * 201})
    assert (await _until(comm, "error"))["code"] == "message_too_long"
    await comm.send_json_to({"type": "chat.send", "text": "still here"})
    assert (await _until(comm, "chat"))["text"] == "still here"
    await comm.disconnect()


async def test_banned_viewer_is_disconnected_and_cannot_rejoin(room):
    stream, fan, _ = room
    comm = await _communicator(stream.pk, fan)
    await comm.connect()
    await _until(comm, "state")
    await database_sync_to_async(room_ban)(stream=stream, user=fan, by=stream.creator)
    frame = await _until(comm, "moderation")
    assert frame["action"] == "ban"
    assert (await comm.receive_output(timeout=3))["type"] == "websocket.close"

    again = await _communicator(stream.pk, fan)
    connected, _ = await again.connect()
    assert connected
    assert (await again.receive_json_from())["code"] == "banned"
    assert (await again.receive_output(timeout=3))["type"] == "websocket.close"
    assert await database_sync_to_async(RoomBan.objects.filter(user=fan).exists)()


async def test_foreign_origin_is_refused(room):
    stream, fan, _ = room
    comm = await _communicator(stream.pk, fan, origin=b"https://evil.example")
    connected, _ = await comm.connect()
    assert not connected


async def test_unverified_account_cannot_send(room):
    stream, _, _ = room
    unverified = await database_sync_to_async(lambda: UserFactory(verified=False))()
    comm = await _communicator(stream.pk, unverified)
    await comm.connect()
    await _until(comm, "state")
    await comm.send_json_to({"type": "chat.send", "text": "hi"})
    assert (await _until(comm, "error"))["code"] == "verify_required"
    await comm.disconnect()


async def test_creator_moderates_by_frame_and_others_cannot(room):
    stream, fan, viewer = room
    creator_comm = await _communicator(stream.pk, stream.creator)
    fan_comm = await _communicator(stream.pk, fan)
    viewer_comm = await _communicator(stream.pk, viewer)
    for comm in (creator_comm, fan_comm, viewer_comm):
        await comm.connect()
        await _until(comm, "state")
    # A viewer cannot moderate.
    await viewer_comm.send_json_to({"type": "moderate", "action": "ban", "handle": fan.handle})
    assert (await _until(viewer_comm, "error"))["code"] == "forbidden"
    # The creator mutes the fan: the fan stays, but chat is refused.
    await creator_comm.send_json_to({"type": "moderate", "action": "mute", "handle": fan.handle})
    assert (await _until(fan_comm, "moderation"))["action"] == "mute"
    await fan_comm.send_json_to({"type": "chat.send", "text": "hello?"})
    assert (await _until(fan_comm, "error"))["code"] == "muted"
    # Unmuted, the fan can talk again.
    await creator_comm.send_json_to({"type": "moderate", "action": "unban", "handle": fan.handle})
    assert (await _until(fan_comm, "moderation"))["action"] == "unban"  # lifted before it talks
    await fan_comm.send_json_to({"type": "chat.send", "text": "back"})
    assert (await _until(viewer_comm, "chat"))["text"] == "back"
    await creator_comm.send_json_to({"type": "moderate", "action": "kick", "handle": fan.handle})
    assert (await _until(creator_comm, "error"))["code"] == "bad_frame"
    for comm in (creator_comm, fan_comm, viewer_comm):
        await comm.disconnect()
