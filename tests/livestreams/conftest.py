from __future__ import annotations

import json

import pytest
from django.core.cache import caches

from livestreams import realtime
from livestreams.realtime import adapters, events


class RoomFrames:
    """Every frame broadcast to rooms during a test, however it went out: published by the
    room scripts on Redis (heard here on a real subscription) or handed to the process's
    hub from Python (caught at realtime._run)."""

    def __init__(self, monkeypatch):
        self._heard: list[tuple[str, dict]] = []
        monkeypatch.setattr(events, "_run", self._caught)
        self._pubsub = None
        channel = realtime.room_channel(0)
        if channel:
            client = adapters.redis_client(caches["default"])
            self._pubsub = client.pubsub()
            self._prefix = channel.removesuffix("0")
            self._pubsub.psubscribe(self._prefix + "*")
            assert self._pubsub.get_message(timeout=5)["type"] == "psubscribe"

    def _caught(self, function, stream_id, texts):
        self._heard.extend((str(stream_id), json.loads(text)) for text in texts)

    def of(self, stream_id: int) -> list[dict]:
        """The frames sent to one room, in the order they were sent."""
        while self._pubsub and (message := self._pubsub.get_message(timeout=0.05)):
            group = message["channel"].decode().removeprefix(self._prefix)
            frames = json.loads(message["data"])["frames"]
            self._heard.extend((group, json.loads(text)) for text in frames)
        return [event for room, event in self._heard if room == str(stream_id)]

    def close(self):
        if self._pubsub:
            self._pubsub.close()


@pytest.fixture
def room_frames(monkeypatch):
    frames = RoomFrames(monkeypatch)
    yield frames
    frames.close()
