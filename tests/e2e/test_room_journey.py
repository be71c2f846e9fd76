"""Two browsers and a creator: go live, join, send Rose × 3 and a Lion, everyone sees it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from livestreams.models import SentGift
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import PHONE
from tests.livestreams.factories import creator, fan_with
from wallet.ledger import account_balance, account_get
from wallet.models import Purpose

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_creator_goes_live_fan_gifts_viewer_sees_it(asgi_server, open_page, shot):
    base = asgi_server
    star = creator(profile__display_name="Luna Live")
    fan = fan_with(30_100, profile__display_name="Big Fan")
    viewer = UserFactory(profile__display_name="Quiet Viewer")

    # The creator goes live through the page.
    creator_page = open_page(base, star, "/live/go/")
    creator_page.fill("input[name=title]", "Late night songs")
    creator_page.fill("input[name=goal_coins]", "50000")
    creator_page.get_by_role("button", name="Start streaming").click()
    expect(creator_page).to_have_url(re.compile(r"/live/\d+/$"))
    room_url = creator_page.url

    # A fan on a phone and a viewer on a desktop join.
    fan_page = open_page(base, fan, viewport=PHONE)
    viewer_page = open_page(base, viewer)
    errors: list[str] = []
    for page in (fan_page, viewer_page):
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(room_url)
    expect(fan_page.locator("[data-balance]")).to_have_text("30,100")
    expect(viewer_page.locator("[data-viewers]")).to_have_text(re.compile(r"^[23]$"))

    # Rose, three taps: one banner with a growing combo.
    fan_page.locator("[data-open-tray]").click()
    fan_page.locator("[data-gift=rose]").click()
    for _ in range(3):
        fan_page.locator("[data-send]").click()
        expect(fan_page.locator("[data-tray-msg]")).to_have_text("Sent!")
        fan_page.locator("[data-tray-msg]").evaluate("node => node.textContent = ''")
    banner = viewer_page.locator(".banner", has_text="sent Rose")
    expect(banner).to_have_count(1)
    expect(banner.locator(".banner-count")).to_have_text("× 3")
    shot(viewer_page, "20-room-rose-combo-desktop")

    # Lion: above the confirmation threshold, so the tray asks first. (After a send the
    # phone's tray is shrunk to Send again; "Gifts" opens the grid.)
    fan_page.locator("[data-tray-more]").click()
    fan_page.locator("[data-gift=lion]").click()
    fan_page.locator("[data-send]").click()
    expect(fan_page.locator("[data-confirm-text]")).to_contain_text("29,999 coins")
    shot(fan_page, "21-room-confirm-lion-phone")
    fan_page.locator("[data-confirm-ok]").click()
    expect(viewer_page.locator(".big-gift")).to_contain_text("sent Lion")
    shot(viewer_page, "22-room-lion-desktop")
    expect(fan_page.locator("[data-balance]")).to_have_text("98")
    expect(viewer_page.locator("[data-top] li")).to_have_count(1)
    expect(viewer_page.locator("[data-top] li").first).to_have_attribute(
        "title", re.compile("Big Fan · 30,002 coins")
    )
    expect(viewer_page.locator("[data-goal-coins]")).to_have_text("30,002")
    shot(fan_page, "23-room-after-phone")

    # Chat goes both ways.
    viewer_page.fill("#chat-input", "What a lion!")
    viewer_page.locator("[data-chat-form] button[type=submit]").click()
    expect(fan_page.locator("[data-chat] li", has_text="What a lion!")).to_be_visible()
    shot(fan_page, "24-room-chat-phone")

    # The money is exact: 30,002 coins spent; the creator's share is counted on the fan's
    # total in the stream, floor(30,002 / 2), not gift by gift (the Roses count too).
    assert account_balance(account_get(owner=fan, purpose=Purpose.WALLET)) == 98
    assert account_balance(account_get(owner=star, purpose=Purpose.EARNINGS)) == 15_001
    assert SentGift.objects.count() == 4
    assert errors == []
