"""The room on one screen: on a desktop the stage, the tray with Send and the chat fit the
window, and a send scrolls nothing; on a phone the tray shrinks after a send so the sender
sees the gift land, then closes. Big gifts keep still for those who ask for less motion."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.e2e.conftest import PHONE
from tests.livestreams.factories import fan_with, live_stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _in_view(page, selector: str) -> bool:
    """Whether the element is wholly inside the window, as it stands (no scrolling)."""
    return page.locator(selector).evaluate(
        """node => { const r = node.getBoundingClientRect();
                     return r.width > 0 && r.top >= 0 && r.left >= 0 &&
                            r.bottom <= innerHeight && r.right <= innerWidth; }"""
    )


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)], ids=["1440x900", "1280x720"])
def test_send_is_in_view_and_a_send_scrolls_nothing(asgi_server, open_page, shot, size):
    width, height = size
    stream = live_stream(title="Desk set", goal_coins=1000)
    fan = fan_with(500)
    page = open_page(
        asgi_server, fan, f"/live/{stream.pk}/", viewport={"width": width, "height": height}
    )
    expect(page.locator("[data-balance]")).to_have_text("500")

    page.locator("[data-gift=perfume]").click()
    expect(page.locator("[data-send]")).to_have_text("Send · 20 coins")
    parts = (
        "[data-send]",
        ".room-head",
        "[data-goal]",
        ".chat-bar",
        "[data-quantity][value='99'] + span",
    )
    for part in parts:
        assert _in_view(page, part), f"{part} is not in view at {width}×{height}"
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    chat_height = page.locator(".chat-panel").bounding_box()["height"]
    shot(page, f"40-room-gift-picked-{width}x{height}")

    for n in range(1, 4):
        page.locator("[data-send]").click()
        expect(page.locator("[data-chat] .chat-gift")).to_contain_text(f"× {n}")
    expect(page.locator("[data-balance]")).to_have_text("440")
    assert page.evaluate("scrollY") == 0
    for part in ("[data-send]", ".room-head", "[data-goal]", ".banner"):
        assert _in_view(page, part), f"{part} left the screen after sending at {width}×{height}"
    assert page.locator(".chat-panel").bounding_box()["height"] == chat_height
    shot(page, f"41-room-after-sends-{width}x{height}")


def test_a_phone_tray_gets_out_of_the_way_after_a_send(asgi_server, open_page, shot):
    stream = live_stream(title="Phone set")
    fan = fan_with(100)
    page = open_page(
        asgi_server, fan, f"/live/{stream.pk}/", viewport=PHONE, has_touch=True, is_mobile=True
    )
    tray = page.locator("[data-tray]")
    expect(tray).to_be_hidden()

    page.locator("[data-open-tray]").tap()
    expect(page.locator("[data-gift=rose]")).to_be_visible()
    assert tray.bounding_box()["height"] < PHONE["height"] * 0.55
    page.locator("[data-gift=rose]").tap()
    assert _in_view(page, "[data-send]") and _in_view(page, "[data-quantity][value='99'] + span")
    shot(page, "42-room-tray-open-phone")

    page.locator("[data-send]").tap()
    # Shrunk to its foot: the grid is gone, Send is there to tap again, the stage shows the gift.
    expect(page.locator(".banner", has_text="sent Rose")).to_be_visible()
    expect(page.locator("[data-gift=rose]")).to_be_hidden()
    expect(page.locator("[data-send]")).to_be_visible()
    assert tray.bounding_box()["height"] < 90
    assert tray.bounding_box()["y"] > page.locator(".banner").bounding_box()["y"] + 48
    expect(page.locator("[data-chat] .chat-gift")).to_be_visible()
    shot(page, "43-room-tray-shrunk-phone")
    page.locator("[data-send]").tap()
    expect(page.locator(".banner .banner-count")).to_have_text("× 2")

    # A pause, and it closes; the gift button brings the whole tray back.
    expect(tray).to_be_hidden(timeout=15_000)
    shot(page, "44-room-tray-closed-phone")
    page.locator("[data-open-tray]").tap()
    expect(page.locator("[data-gift=rose]")).to_be_visible()


def test_big_gifts_hold_still_for_reduced_motion(asgi_server, open_page):
    """With prefers-reduced-motion a big gift fades in and out where it stands; without it,
    it spins and grows as before."""
    stream = live_stream(title="Calm room")
    fan = fan_with(600)
    pages = {
        motion: open_page(asgi_server, user, f"/live/{stream.pk}/", reduced_motion=motion)
        for motion, user in (("reduce", fan), ("no-preference", UserFactory()))
    }
    sender = pages["reduce"]
    expect(sender.locator("[data-balance]")).to_have_text("600")
    expect(pages["no-preference"].locator("[data-viewers]")).to_have_text("2")
    sender.locator("[data-gift=money-gun]").click()
    sender.locator("[data-send]").click()
    moves = "node => node.getAnimations()[0].effect.getKeyframes().some(k => k.transform)"
    for motion, page in pages.items():
        big = page.locator(".big-gift")
        expect(big).to_contain_text("sent Money Gun")
        assert big.evaluate(moves) is (motion == "no-preference"), motion
