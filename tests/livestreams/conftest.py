from __future__ import annotations

import json

import pytest
from django.core.cache import caches

from livestreams import realtime


class RoomFrames:
    """Every frame broadcast to rooms during a test, however it went out: published by the
    room scripts on Redis (heard here on a real subscription) or handed to the channel layer
    from Python (caught at realtime._run)."""

    def __init__(self, monkeypatch):
        self._heard: list[tuple[str, dict]] = []
        monkeypatch.setattr(realtime, "_run", self._caught)
        self._pubsub = None
        channel = realtime.room_channel(0)
        if channel:
            client = caches["default"]._cache.get_client(write=True)
            self._pubsub = client.pubsub()
            self._prefix = channel.removesuffix(realtime.group_name(0))
            self._pubsub.psubscribe(self._prefix + "*")
            assert self._pubsub.get_message(timeout=5)["type"] == "psubscribe"

    def _caught(self, function, group, message):
        self._heard.extend((group, json.loads(text)) for text in message["frames"])

    def of(self, stream_id: int) -> list[dict]:
        """The frames sent to one room, in the order they were sent."""
        while self._pubsub and (message := self._pubsub.get_message(timeout=0.05)):
            group = message["channel"].decode().removeprefix(self._prefix)
            frames = json.loads(message["data"])["frames"]
            self._heard.extend((group, json.loads(text)) for text in frames)
        return [event for group, event in self._heard if group == realtime.group_name(stream_id)]

    def close(self):
        if self._pubsub:
            self._pubsub.close()


@pytest.fixture
def room_frames(monkeypatch):
    frames = RoomFrames(monkeypatch)
    yield frames
    frames.close()
