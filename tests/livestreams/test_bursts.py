"""A fan's run of small gifts reaches the room as a few frames (livestreams.realtime.bursts),
with every send in them, the combo and the ranking as after the last: on the in-memory
default and, with REDIS_URL set, on Redis — the same test."""

from __future__ import annotations

import time
import uuid

import pytest
from channels.db import database_sync_to_async

from livestreams.models import SentGift
from livestreams.realtime import bursts
from tests.livestreams.factories import fan_with, live_stream
from tests.livestreams.test_consumer import _communicator, _until

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _room(coins=100_000):
    stream = await database_sync_to_async(live_stream)()
    fan = await database_sync_to_async(fan_with)(coins)
    sender = await _communicator(stream.pk, fan)
    viewer = await _communicator(stream.pk)
    for comm in (sender, viewer):
        assert (await comm.connect())[0]
        await _until(comm, "state")
    return stream, sender, viewer


async def _send(sender, slug: str, times: int) -> None:
    for _ in range(times):
        await sender.send_json_to({"type": "gift.send", "gift": slug, "key": str(uuid.uuid4())})
        assert (await _until(sender, "gift.ok"))["type"] == "gift.ok"


async def _gift_frames(viewer, sends: int, quiet: float = 0.6) -> list[dict]:
    """The gift frames the viewer gets until `sends` sends are in them and the room is quiet."""
    frames, seqs, covered = [], [], 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if covered >= sends and await viewer.receive_nothing(timeout=quiet):
            break
        if await viewer.receive_nothing(timeout=0.05):
            continue
        frame = await viewer.receive_json_from()
        seqs.append(frame.get("seq"))
        if frame["type"] == "gift":
            frames.append(frame)
            covered += len(frame.get("ids", [frame["id"]]))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # no gaps
    return frames


async def test_a_run_of_roses_is_a_few_frames_with_every_send_in_them(settings):
    settings.ROOM_GIFT_BURST_MS = 300
    stream, sender, viewer = await _room()
    await _send(sender, "rose", 15)
    frames = await _gift_frames(viewer, 15)
    assert 2 <= len(frames) <= 8, [len(f.get("ids", [1])) for f in frames]
    ids = [i for f in frames for i in f.get("ids", [f["id"]])]
    sent = await database_sync_to_async(
        lambda: list(SentGift.objects.order_by("pk").values_list("pk", flat=True))
    )()
    assert ids == sent  # each send once, in order
    assert sum(f["quantity"] for f in frames) == 15 and sum(f["coins"] for f in frames) == 15
    assert frames[-1]["combo"] == 15  # the streak, as one frame per send would have left it
    assert frames[-1]["ranking"]["coins"] == 15
    assert frames[-1]["ranking"]["top"][0]["coins"] == 15
    assert frames[0].get("ids") is None  # the run's first went out at once, alone
    for comm in (sender, viewer):
        await comm.disconnect()


async def test_big_gifts_are_never_held_and_a_zero_window_holds_nothing(settings):
    settings.ROOM_GIFT_BURST_MS = 300
    stream, sender, viewer = await _room()
    await _send(sender, "money-gun", 3)  # 500 coins: big, plays on the stage one by one
    assert [f.get("ids") for f in await _gift_frames(viewer, 3)] == [None] * 3
    settings.ROOM_GIFT_BURST_MS = 0
    await _send(sender, "perfume", 4)
    frames = await _gift_frames(viewer, 4)
    assert [f["quantity"] for f in frames] == [1] * 4 and frames[-1]["combo"] == 4
    for comm in (sender, viewer):
        await comm.disconnect()


async def test_different_gifts_and_anonymous_sends_are_runs_of_their_own(settings):
    settings.ROOM_GIFT_BURST_MS = 300
    stream, sender, viewer = await _room()
    for slug, anonymous in [("rose", False), ("finger-heart", False), ("rose", True)] * 2:
        await sender.send_json_to({"type": "gift.send", "gift": slug, "anonymous": anonymous,
                                   "key": str(uuid.uuid4())})  # fmt: skip
        await _until(sender, "gift.ok")
    frames = await _gift_frames(viewer, 6)
    runs = {(f["gift"], f["sender"]["anonymous"]): 0 for f in frames}
    for f in frames:
        runs[(f["gift"], f["sender"]["anonymous"])] += f["quantity"]
        if f["sender"]["anonymous"]:  # never merged with the fan's named run: it would name them
            assert f["sender"] == {"anonymous": True, "handle": None, "name": "Anonymous"}
    assert runs == {("rose", False): 2, ("finger-heart", False): 2, ("rose", True): 2}
    for comm in (sender, viewer):
        await comm.disconnect()


def test_merged_sums_the_run_and_keeps_the_last_sends_standing():
    held = [
        ({"id": 1, "gift": "rose", "quantity": 2, "coins": 2, "big": False, "name": "Rose"},
         {"sender_id": 7, "quantity": 2, "gifter": "first"}),
        ({"id": 2, "gift": "rose", "quantity": 3, "coins": 3, "big": False, "name": "Rose"},
         {"sender_id": 7, "quantity": 3, "gifter": "last"}),
    ]  # fmt: skip
    frame, announcement = bursts.merged(held)
    assert frame == {"id": 2, "gift": "rose", "quantity": 5, "coins": 5, "big": False,
                     "name": "Rose", "ids": [1, 2]}  # fmt: skip
    assert announcement == {"sender_id": 7, "quantity": 5, "gifter": "last"}


def test_without_an_event_loop_every_gift_goes_at_once(settings):
    settings.ROOM_GIFT_BURST_MS = 300
    gift = {"id": 1, "gift": "rose", "quantity": 1, "coins": 1, "big": False,
            "sender": {"anonymous": False}}  # fmt: skip
    assert not bursts.hold(1, gift, {"sender_id": 1}, None)
    assert not bursts.hold(1, gift, {"sender_id": 1}, None)
