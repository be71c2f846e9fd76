"""Everything the room asks of a mouse, a keyboard does: a fan picks and sends a gift (one
asking for confirmation too) and the creator mutes a viewer, with keys alone."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from livestreams.models import RoomBan, SentGift
from tests.livestreams.factories import fan_with, live_stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the focused element matches `selector` (fails past `limit` presses)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _focused(page, attribute: str) -> str | None:
    return page.evaluate("a => document.activeElement.getAttribute(a)", attribute)


def test_a_fan_gifts_with_the_keyboard_alone(asgi_server, open_page, shot):
    stream = live_stream(title="Keys only")
    fan = fan_with(3_000)
    page = open_page(asgi_server, fan, f"/live/{stream.pk}/")
    expect(page.locator("[data-balance]")).to_have_text("3,000")

    # One stop for the whole grid; arrows move across it and pick as they go.
    _tab_to(page, "[data-gift]")
    assert _focused(page, "data-gift") == "rose"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert _focused(page, "data-gift") == "perfume"
    expect(page.locator("[data-gift=perfume]")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")
    assert _focused(page, "data-gift") == "universe"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")  # the tile under Rose, a row down
    below = _focused(page, "data-gift")
    columns = page.locator("[data-gift]").evaluate_all(
        "tiles => tiles.filter(t => t.offsetTop === tiles[0].offsetTop).length"
    )
    slugs = page.locator("[data-gift]").evaluate_all("tiles => tiles.map(t => t.dataset.gift)")
    assert below == slugs[columns]
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")  # Finger Heart, 5 coins

    # Quantity is a radio group: Tab in, an arrow to × 5; then Send.
    _tab_to(page, "[data-quantity]")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-quantity][value='5']")).to_be_checked()
    expect(page.locator("[data-send]")).to_have_text("Send · 25 coins")
    _tab_to(page, "[data-send]")
    page.keyboard.press("Enter")
    expect(page.locator("[data-tray-msg]")).to_have_text("Sent!")
    expect(page.locator(".banner", has_text="sent Finger Heart")).to_contain_text("× 5")

    # A Diamond Ring (1,500 coins, over the fan's 1,000) asks first: the dialog answers to
    # the keyboard too.
    page.locator("[data-tray-msg]").evaluate("node => node.textContent = ''")
    _tab_to(page, "[data-gift]")
    for _ in range(slugs.index("diamond-ring") - slugs.index("finger-heart")):
        page.keyboard.press("ArrowRight")
    assert _focused(page, "data-gift") == "diamond-ring"
    _tab_to(page, "[data-quantity]")
    page.keyboard.press("ArrowLeft")  # back to × 1
    expect(page.locator("[data-send]")).to_have_text("Send · 1,500 coins")
    _tab_to(page, "[data-send]")
    page.keyboard.press("Enter")
    expect(page.locator("[data-confirm]")).to_be_visible()
    _tab_to(page, "[data-confirm-ok]", limit=3)
    shot(page, "46-room-keyboard-confirm-desktop")
    page.keyboard.press("Enter")
    expect(page.locator("[data-tray-msg]")).to_have_text("Sent!")
    expect(page.locator("[data-balance]")).to_have_text("1,475")
    assert sorted(SentGift.objects.values_list("gift__slug", "quantity")) == [
        ("diamond-ring", 1), ("finger-heart", 5)
    ]  # fmt: skip


def test_the_creator_mutes_a_viewer_with_the_keyboard_alone(asgi_server, open_page, shot):
    stream = live_stream(title="Moderated")
    troll = fan_with(0, profile__handle="loudone")
    creator_page = open_page(asgi_server, stream.creator, f"/live/{stream.pk}/")
    troll_page = open_page(asgi_server, troll, f"/live/{stream.pk}/")
    expect(troll_page.locator("[data-viewers]")).to_have_text(re.compile(r"^\d+$"))
    troll_page.fill("#chat-input", "SPAM SPAM")
    troll_page.keyboard.press("Enter")
    expect(creator_page.locator("[data-chat] li", has_text="SPAM SPAM")).to_be_visible()

    # The name is a button: Tab to it, Enter opens the choices with focus on the first.
    _tab_to(creator_page, "button.moderatable[data-handle=loudone]")
    creator_page.keyboard.press("Enter")
    assert creator_page.evaluate("document.activeElement.textContent") == "Mute"
    expect(creator_page.locator("button.moderatable[data-handle=loudone]")).to_have_attribute(
        "aria-expanded", "true"
    )
    # Escape closes them and gives the name its focus back; Space opens them again.
    creator_page.keyboard.press("Escape")
    assert _focused(creator_page, "data-handle") == "loudone"
    creator_page.keyboard.press("Space")
    shot(creator_page, "47-room-keyboard-moderation-desktop")
    creator_page.keyboard.press("Enter")  # Mute
    assert _focused(creator_page, "data-handle") == "loudone"
    expect(creator_page.locator("[data-notice]")).to_have_text("Muted @loudone")

    for _ in range(50):
        if RoomBan.objects.filter(user=troll, kind=RoomBan.Kind.MUTE).exists():
            break
        time.sleep(0.1)
    assert RoomBan.objects.filter(
        user=troll, creator=stream.creator, kind=RoomBan.Kind.MUTE
    ).exists()
    troll_page.fill("#chat-input", "still here?")
    troll_page.keyboard.press("Enter")
    expect(troll_page.locator("[data-notice]")).to_contain_text("muted")
