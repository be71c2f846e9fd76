"""Frames in: the one decoder for everything a room's client may send (docs/protocol.md).

Each frame type is a small dataclass and a schema of its fields; `frame_decode` turns a
websocket text into one of them or raises BadFrame with the `error` frame's code. Field
types are strict (`"anonymous": "false"` is not a boolean, `true` is not a quantity) and
strings are what the database can store (no NUL, no lone surrogate), so nothing a client
sends reaches a service in a shape the service did not expect. What a value means (a known
gift, a quantity in range, a UUID key) stays the services' to decide.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

MAX_FRAME_CHARS = 4096  # the largest frame a client has reason to send is a 200-char chat
MAX_INT = 2**31 - 1


class Budget:
    """The frames one connection may send, every type together: `spec` ("count/seconds") in
    a fixed window, counted in the connection's own memory (no round trip per frame)."""

    __slots__ = ("count", "seconds", "window", "used")

    def __init__(self, spec: str):
        self.count, self.seconds = (int(part) for part in spec.split("/"))
        self.window = self.used = 0

    def spend(self) -> int:
        """Count one frame: 0 within the budget, else how many frames over it this window."""
        window = int(time.monotonic() // self.seconds)
        if window != self.window:
            self.window, self.used = window, 0
        self.used += 1
        return max(0, self.used - self.count)


class BadFrame(ValueError):
    """A frame the room cannot read: answered with an `error` frame of this code."""

    def __init__(self, message: str, *, code: str = "bad_frame", key: str | None = None):
        super().__init__(message)
        self.code, self.key = code, key


@dataclass(frozen=True, slots=True)
class GiftSend:
    gift: str
    quantity: int
    key: str
    anonymous: bool


@dataclass(frozen=True, slots=True)
class ChatSend:
    text: str


@dataclass(frozen=True, slots=True)
class Moderate:
    action: str
    handle: str


@dataclass(frozen=True, slots=True)
class Sync:
    pass


Frame = GiftSend | ChatSend | Moderate | Sync


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its JSON type, its default when absent (REQUIRED: none), and for strings
    their longest length and, where the protocol fixes them, the values allowed."""

    kind: type
    default: object
    max_length: int = 0
    choices: tuple[str, ...] = ()


REQUIRED = object()
SCHEMAS: dict[str, tuple[type, dict[str, Field], str]] = {
    # type: (frame class, fields, what the error says when a field is wrong)
    "gift.send": (
        GiftSend,
        {
            "gift": Field(str, REQUIRED, max_length=50),
            "quantity": Field(int, 1),
            "key": Field(str, "", max_length=64),
            "anonymous": Field(bool, False),
        },
        "gift.send needs a gift slug, an integer quantity, a string key and a true/false anonymous.",
    ),
    "chat.send": (
        ChatSend,
        {"text": Field(str, REQUIRED, max_length=1000)},
        "chat.send needs text.",
    ),
    "moderate": (
        Moderate,
        {
            "action": Field(str, REQUIRED, choices=("ban", "mute", "unban")),
            "handle": Field(str, REQUIRED, max_length=64),
        },
        "moderate needs an action (ban, mute, unban) and a handle.",
    ),
    "sync": (Sync, {}, ""),
}
NOT_A_FRAME = "Frames are JSON objects with a type."


def frame_decode(text: str | None) -> Frame:
    """The frame in `text`, or BadFrame (code `bad_frame` or `unknown_type`)."""
    if not isinstance(text, str) or len(text) > MAX_FRAME_CHARS:
        raise BadFrame(
            NOT_A_FRAME if text is None else f"Frames are at most {MAX_FRAME_CHARS} characters."
        )
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadFrame(NOT_A_FRAME) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise BadFrame(NOT_A_FRAME)
    schema = SCHEMAS.get(raw["type"])
    if schema is None:
        shown = raw["type"][:40].encode("utf-8", "replace").decode().replace("\x00", "")
        raise BadFrame(f"Unknown frame type {shown!r}.", code="unknown_type")
    cls, fields, wrong = schema
    key = raw.get("key") if _storable(raw.get("key")) else None
    values = {}
    for name, field in fields.items():
        value = raw.get(name, field.default)
        if value is REQUIRED or not _fits(value, field):
            raise BadFrame(wrong, key=key)
        values[name] = value
    return cls(**values)


def _fits(value: object, field: Field) -> bool:
    if field.kind is int:
        return type(value) is int and -MAX_INT <= value <= MAX_INT
    if field.kind is bool:
        return type(value) is bool
    return (
        _storable(value)
        and (not field.max_length or len(value) <= field.max_length)
        and (not field.choices or value in field.choices)
    )


def _storable(value: object) -> bool:
    """A string PostgreSQL can store and a client can be shown: no NUL, valid Unicode."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")
