"""The state that answers a `sync` may be a couple of seconds old (one state serves every
viewer asking meanwhile), so the room's frames after it include some the client has already
shown: the room and the overlay bring their ranking up to date from them and show a gift
once, not twice. The server here is the test: Playwright stands in for the websocket."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.livestreams.factories import live_stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _state(seq: int, coins: int = 0) -> dict:
    return {"type": "state", "seq": seq, "status": "live", "viewers": 1, "chat": [], "top": [],
            "coins": coins, "goal": None}  # fmt: skip


def _gift(seq: int, handle: str, slug: str, name: str, combo: int, total: int, big=False) -> dict:
    sender = {"handle": handle, "name": handle.title(), "anonymous": False}
    return {
        "type": "gift", "seq": seq, "id": seq, "gift": slug, "name": name,
        "artwork": f"/static/gifts/{slug}.svg", "quantity": 1, "coins": 1, "big": big,
        "combo": combo, "sender": sender,
        "ranking": {"top": [{**sender, "coins": total}], "coins": total},
    }  # fmt: skip


class FakeRoom:
    """The room's websocket, played by the test: frames sent to the page, frames it sent."""

    def __init__(self, page):
        self.page, self.sockets, self.heard = page, [], []
        page.route_web_socket(re.compile(r"/ws/live/"), self._connected)

    def _connected(self, ws):
        self.sockets.append(ws)
        ws.on_message(lambda message: self.heard.append(json.loads(message)))

    def until(self, what: str, done) -> None:
        """Wait (5 s at most) until `done()`, letting the page run meanwhile."""
        for _ in range(50):
            if done():
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{what} did not happen; the page sent {self.heard}")

    def connections(self, count: int) -> None:
        self.until(f"connection {count}", lambda: len(self.sockets) >= count)

    def send(self, *frames: dict) -> None:
        self.connections(1)
        for frame in frames:
            self.sockets[-1].send(json.dumps(frame))

    def wait_for(self, frame_type: str) -> None:
        self.until(
            f"a {frame_type} frame", lambda: any(f["type"] == frame_type for f in self.heard)
        )


def test_frames_after_an_older_state_update_the_room_without_showing_gifts_twice(
    live_server, open_page
):
    stream = live_stream(title="Replays")
    page = open_page(live_server.url)
    room = FakeRoom(page)
    page.goto(f"{live_server.url}/live/{stream.pk}/")
    chat = page.locator("[data-chat]")
    ann = chat.locator(".chat-gift", has_text="@ann sent Rose")

    room.send(_state(10), _gift(11, "ann", "rose", "Rose", 1, 1))
    expect(ann.locator(".chat-combo")).to_have_text("× 1")
    # 12 (a gift) and 13 (a chat line) are lost on the way: 14 is a gap, and the page asks
    # for the state.
    lion = _gift(12, "bob", "lion", "Lion", 1, 2)
    missed = {"type": "chat", "seq": 13, "id": 5, "text": "missed me?",
              "user": {"handle": "bob", "name": "Bob", "level": 0}, "at": "2026-12-02T00:00:00Z"}  # fmt: skip
    room.send(_gift(14, "ann", "rose", "Rose", 2, 3))
    expect(ann.locator(".chat-combo")).to_have_text("× 2")
    room.wait_for("sync")

    # The state is from before 11; the frames since it follow, 11 and 14 among them again.
    # The two missed are shown now; the two shown are not shown again.
    room.send(
        _state(10),
        _gift(11, "ann", "rose", "Rose", 1, 1),
        lion,
        missed,
        _gift(14, "ann", "rose", "Rose", 2, 3),
        _gift(15, "cat", "finger-heart", "Finger Heart", 1, 4),
    )
    expect(chat.locator(".chat-gift", has_text="@cat sent Finger Heart")).to_be_visible()
    expect(chat.locator(".chat-gift", has_text="@bob sent Lion")).to_have_count(1)
    expect(chat.locator("li", has_text="missed me?")).to_have_count(1)
    expect(ann).to_have_count(1)
    expect(ann.locator(".chat-combo")).to_have_text("× 2")
    expect(chat.locator(".chat-gift")).to_have_count(3)
    expect(page.locator("[data-top] li")).to_have_accessible_name("Cat · 4 coins")


def test_the_overlay_plays_a_big_gift_once_across_a_reconnect(live_server, open_page):
    stream = live_stream(title="Overlay replays")
    page = open_page(live_server.url)
    room = FakeRoom(page)
    page.goto(f"{live_server.url}/overlay/{stream.overlay_token}/")
    page.evaluate(
        """() => { window.bigShown = 0;
        new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(n => {
          if (n.classList && n.classList.contains("big-gift")) window.bigShown++; })))
          .observe(document.querySelector("[data-bigstage]"), {childList: true, subtree: true}); }"""
    )
    room.send(_state(20), _gift(21, "ann", "money-gun", "Money Gun", 1, 500, big=True))
    expect(page.locator(".big-gift")).to_contain_text("Money Gun")
    # The connection drops; the new one's state (held by the server) is from before the gift.
    room.sockets[-1].close()
    room.connections(2)
    room.send(_state(20), _gift(21, "ann", "money-gun", "Money Gun", 1, 500, big=True),
              _gift(22, "bob", "galaxy", "Galaxy", 1, 1500, big=True))  # fmt: skip
    expect(page.locator(".big-gift")).to_contain_text("Galaxy", timeout=10_000)
    page.wait_for_timeout(3_500)  # the Galaxy has played out: nothing was queued behind it
    assert page.evaluate("window.bigShown") == 2
