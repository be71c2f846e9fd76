"""docs/protocol.md says what the room sends: every frame a room sends in a real session has
a section there, and the section's example carries the same fields, nested ones included.

The session goes through the real ASGI application: a fan chats and gifts (one gift, then a
run that goes out as one burst frame, then a refused one), a second viewer joins the room as
it then stands, the creator moderates, and the stream ends. The examples are read from the
document's ```json blocks under each "### `type`" heading.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from livestreams import exceptions, frames
from livestreams.realtime import hub
from livestreams.services import stream_end
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import fan_with, live_stream
from tests.livestreams.test_consumer import _communicator

DOC = Path(settings.BASE_DIR) / "docs" / "protocol.md"
SECTION = re.compile(r"^### `([a-z.]+)`$", re.M)
BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)


def documented() -> dict[str, list[dict]]:
    """Each frame type's examples (by the example's own `type`: a section may show the
    answer too), in the order the document gives them."""
    text = DOC.read_text()
    heads = list(SECTION.finditer(text))
    examples: dict[str, list[dict]] = {}
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        body = text[head.end() : after.start() if after else len(text)]
        # "…" stands for a value the example leaves out; the field is still there.
        assert BLOCK.search(body), f"`{head.group(1)}` has no example"
        for block in BLOCK.findall(body):
            example = json.loads(block.replace('"…"', '"..."').replace("…", ""))
            examples.setdefault(example["type"], []).append(example)
    return examples


def shape(value):
    """The fields of a frame, nested objects and a list's first element included, down to
    each value's JSON type (null matches any: `goal` is a number or null)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None if value is None else type(value).__name__


def differences(doc, sent, path="") -> list[str]:
    if isinstance(doc, dict) and isinstance(sent, dict):
        found = [f"{path}.{k}: documented, not sent" for k in doc.keys() - sent.keys()]
        found += [f"{path}.{k}: sent, not documented" for k in sent.keys() - doc.keys()]
        for key in doc.keys() & sent.keys():
            found += differences(doc[key], sent[key], f"{path}.{key}")
        return found
    if isinstance(doc, list) and isinstance(sent, list):
        return differences(doc[0], sent[0], f"{path}[]") if doc and sent else []
    if isinstance(doc, dict | list) or isinstance(sent, dict | list):
        return [f"{path}: documented as {type(doc).__name__}, sent as {type(sent).__name__}"]
    if doc is not None and sent is not None and doc != sent:
        return [f"{path}: documented as {doc}, sent as {sent}"]
    return []


def test_the_documents_examples_parse_and_the_client_frames_decode():
    examples = documented()
    for kind in ("gift.send", "chat.send", "moderate", "sync"):
        assert examples[kind], kind
        for example in examples[kind]:
            frames.frame_decode(json.dumps(example))  # raises BadFrame if the doc is wrong
    assert examples["resync"] == [json.loads(hub.RESYNC)]


def test_every_error_code_the_room_can_send_is_in_the_table():
    text = DOC.read_text()
    table = set(re.findall(r"^\| `([a-z_]+)`(?: / `([a-z_]+)`)? \|", text, re.M))
    listed = {code for pair in table for code in pair if code}
    sources = Path(settings.BASE_DIR, "livestreams")
    raised = set()
    for path in [*sources.glob("*.py"), *sources.glob("realtime/*.py")]:
        raised |= set(re.findall(r'code(?:: str)? ?= ?"([a-z_]+)"', path.read_text()))
        raised |= set(re.findall(r'_error\("([a-z_]+)"', path.read_text()))
    raised |= {
        value[1]
        for name, value in vars(exceptions).items()
        if name.isupper() and isinstance(value, tuple)
    }
    # The wallet's errors a gift can meet (the consumer sends any WalletError's code; the
    # others are the recharge pages' and, ledger_error, a programming error).
    raised |= {"insufficient_funds", "wallet_frozen", "idempotency_conflict"}
    # Raised by the go-live page, which answers over HTTP, never in a room; and RoomError's
    # fallback, which every raise in the room overrides.
    raised -= {"not_eligible", "already_live", "room_error"}
    assert raised - listed == set(), "codes the room sends that the table leaves out"
    assert listed - raised == set(), "codes the table lists that nothing sends"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_what_the_room_sends_is_what_the_document_says(settings, monkeypatch):
    settings.ROOM_GIFT_BURST_MS = 3000  # the run below is one burst however slow the machine
    settings.ROOM_VIEWERS_INTERVAL = 0.2
    monkeypatch.setattr(hub, "STATE_SECONDS", 0)  # each join reads the room as it stands
    stream, fan, watcher_user = await database_sync_to_async(
        lambda: (live_stream(), fan_with(1000), UserFactory())
    )()
    fan_handle = await database_sync_to_async(lambda: fan.profile.handle)()
    heard: list[dict] = []  # every frame any of the three connections received
    waiting: dict[object, list[dict]] = {}  # per connection, received and not yet asked for

    async def until(comm, kind):
        held = waiting.setdefault(comm, [])
        for _ in range(30):
            for frame in held:
                if frame["type"] == kind:
                    held.remove(frame)
                    return frame
            frame = await comm.receive_json_from(timeout=3)
            heard.append(frame)
            held.append(frame)
        raise AssertionError(f"no {kind} frame")

    sender = await _communicator(stream.pk, fan)
    assert (await sender.connect())[0]
    await until(sender, "state")
    await sender.send_json_to({"type": "chat.send", "text": "hello"})
    await until(sender, "chat")
    rose = {"type": "gift.send", "gift": "rose", "quantity": 1}
    await sender.send_json_to({**rose, "key": str(uuid.uuid4())})
    await until(sender, "gift.ok")
    assert "ids" not in await until(sender, "gift")  # the first of a run goes out alone
    for _ in range(4):  # the rest back to back: held, and sent as one frame
        await sender.send_json_to({**rose, "key": str(uuid.uuid4())})
    for _ in range(4):
        await until(sender, "gift.ok")
    burst = await until(sender, "gift")
    assert burst["ids"] and burst["quantity"] == 4
    await sender.send_json_to(
        {"type": "gift.send", "gift": "rose", "quantity": 0, "key": str(uuid.uuid4())}
    )
    assert (await until(sender, "error"))["code"] == "bad_quantity"

    watcher = await _communicator(stream.pk, watcher_user)
    assert (await watcher.connect())[0]
    state = await until(watcher, "state")
    assert state["chat"] and state["top"] and "balance" in state
    await until(sender, "viewers")
    creator = await _communicator(stream.pk, stream.creator)
    assert (await creator.connect())[0]
    await until(creator, "state")
    await creator.send_json_to({"type": "moderate", "action": "mute", "handle": fan_handle})
    await until(watcher, "moderation")
    await database_sync_to_async(stream_end)(stream=stream, by=stream.creator)
    await until(watcher, "stream.ended")
    for comm in (sender, watcher, creator):
        await comm.disconnect()
    await asyncio.sleep(0)

    examples = documented()
    found = []
    for frame in heard:
        kind = frame["type"]
        assert kind in examples, f"`{kind}` frames are sent but have no example"
        # A frame is held to the example it is a case of (a burst's to the one with `ids`):
        # the closest one.
        closest = min(
            (differences(shape(example), shape(frame)) for example in examples[kind]), key=len
        )
        found += [f"`{kind}`{d}" for d in closest]
    assert found == [], "\n".join(found)
    assert {f["type"] for f in heard} >= {
        "state", "chat", "gift.ok", "gift", "error", "viewers", "moderation", "stream.ended"
    }  # fmt: skip
