"""The room's frame decoder (livestreams.frames): one schema, strict types, storable strings."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from livestreams import frames
from livestreams.frames import BadFrame, ChatSend, GiftSend, Moderate, Sync, frame_decode


def _decode(frame: dict) -> frames.Frame:
    return frame_decode(json.dumps(frame))


def test_each_frame_type_decodes_with_its_defaults():
    assert _decode({"type": "gift.send", "gift": "rose"}) == GiftSend("rose", 1, "", False)
    assert _decode(
        {"type": "gift.send", "gift": "lion", "quantity": 3, "key": "k", "anonymous": True}
    ) == GiftSend("lion", 3, "k", True)
    assert _decode({"type": "chat.send", "text": "hi", "extra": 1}) == ChatSend("hi")
    assert _decode({"type": "moderate", "action": "mute", "handle": "troll"}) == Moderate(
        "mute", "troll"
    )
    assert _decode({"type": "sync"}) == Sync()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "gift.send", "gift": "rose", "anonymous": "false"},  # a string is not a boolean
        {"type": "gift.send", "gift": "rose", "anonymous": 0},
        {"type": "gift.send", "gift": "rose", "quantity": True},  # nor a boolean a number
        {"type": "gift.send", "gift": "rose", "quantity": 2.0},
        {"type": "gift.send", "gift": "rose", "quantity": "2"},
        {"type": "gift.send", "gift": "rose", "quantity": 10**30},
        {"type": "gift.send", "gift": "rose", "key": 5},
        {"type": "gift.send", "gift": "ro\x00se"},
        {"type": "gift.send", "gift": "r" * 51},
        {"type": "gift.send", "quantity": 1},
        {"type": "gift.send", "gift": None},
        {"type": "chat.send", "text": "hi\x00"},
        {"type": "chat.send", "text": ["hi"]},
        {"type": "chat.send"},
        {"type": "moderate", "action": "kick", "handle": "troll"},
        {"type": "moderate", "action": "ban", "handle": "tr\x00oll"},
        {"type": "moderate", "action": "ban"},
    ],
)
def test_wrongly_typed_or_unstorable_fields_are_bad_frames(frame):
    with pytest.raises(BadFrame) as caught:
        _decode(frame)
    assert caught.value.code == "bad_frame"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        '"sync"',
        '{"type": 5}',
        '{"no": "type"}',
        '{"type": "sync", "x": NaN}',
        '{"type": "chat.send", "text": "\\ud800"}',  # a lone surrogate: not storable
        "[" * 5000,
        json.dumps({"type": "chat.send", "text": "x" * 5000}),  # past MAX_FRAME_CHARS
    ],
)
def test_what_is_not_a_frame_is_a_bad_frame(text):
    with pytest.raises(BadFrame) as caught:
        frame_decode(text)
    assert caught.value.code == "bad_frame"


def test_an_unknown_type_says_so_and_a_bad_gift_echoes_its_key():
    with pytest.raises(BadFrame) as caught:
        _decode({"type": "dance\x00\ud800"})
    assert caught.value.code == "unknown_type" and "\x00" not in str(caught.value)
    json.dumps(str(caught.value)).encode("utf-8")  # the error frame can be sent
    with pytest.raises(BadFrame) as caught:
        _decode({"type": "gift.send", "gift": "rose", "quantity": "2", "key": "k-1"})
    assert caught.value.key == "k-1"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
NEAR_FRAMES = st.fixed_dictionaries(
    {"type": st.sampled_from([*frames.SCHEMAS, "", "dance"]) | st.text(max_size=10)},
    optional={
        name: JSON_VALUES | st.text(alphabet=st.characters(exclude_categories=()), max_size=60)
        for name in ("gift", "quantity", "key", "anonymous", "text", "action", "handle")
    },
)


@examples(max_examples=400, deadline=None)
@given(payload=NEAR_FRAMES.map(json.dumps) | st.text(max_size=300) | JSON_VALUES.map(json.dumps))
def test_the_decoder_answers_any_text_with_a_frame_or_a_bad_frame(payload):
    try:
        frame = frame_decode(payload)
    except BadFrame as exc:
        assert exc.code in ("bad_frame", "unknown_type")
        json.dumps({"message": str(exc), "key": exc.key}).encode("utf-8")
        return
    for value in dataclasses.astuple(frame):
        if isinstance(value, str):
            assert "\x00" not in value
            value.encode("utf-8")
        else:
            assert type(value) in (int, bool)
