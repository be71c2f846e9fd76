"""The server restarts mid-stream: the room reconnects, re-syncs, and a gift sent while it
was down is delivered once when the connection is back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from livestreams.models import ChatMessage, SentGift
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import PHONE
from tests.livestreams.factories import fan_with, live_stream
from wallet.ledger import account_balance, account_get
from wallet.models import Purpose

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_room_survives_a_server_restart(asgi_server, open_page, shot):
    stream = live_stream(title="Restart-proof")
    ChatMessage.objects.create(stream=stream, user=stream.creator, text="Welcome!")
    fan = fan_with(100)
    viewer = UserFactory()
    room = f"/live/{stream.pk}/"

    fan_page = open_page(asgi_server, fan, room, viewport=PHONE)
    expect(fan_page.locator("[data-balance]")).to_have_text("100")
    viewer_page = open_page(asgi_server, viewer, room)
    expect(viewer_page.locator("[data-chat] li", has_text="Welcome!")).to_have_count(1)

    asgi_server.stop()
    expect(fan_page.locator("[data-notice]")).to_have_text("Reconnecting…")
    # A gift sent while the server is down waits for the connection.
    fan_page.locator("[data-open-tray]").click()
    fan_page.locator("[data-gift=perfume]").click()
    fan_page.locator("[data-send]").click()
    expect(fan_page.locator("[data-tray-msg]")).to_contain_text(
        "it will be sent when the room reconnects"
    )
    shot(fan_page, "30-reconnecting-phone")
    asgi_server.start()

    expect(fan_page.locator("[data-tray-msg]")).to_have_text("Sent!", timeout=30_000)
    expect(fan_page.locator("[data-balance]")).to_have_text("80")
    expect(fan_page.locator("[data-notice]")).to_be_hidden()
    # The viewer's room came back with its state (chat history, not duplicated) and live events.
    expect(viewer_page.locator("[data-chat] li", has_text="Welcome!")).to_have_count(
        1, timeout=30_000
    )
    expect(viewer_page.locator("[data-top] li")).to_have_count(1)
    expect(viewer_page.locator("[data-viewers]")).to_have_text(re.compile(r"^\d+$"))
    shot(viewer_page, "31-reconnected-desktop")

    assert SentGift.objects.count() == 1
    assert account_balance(account_get(owner=fan, purpose=Purpose.WALLET)) == 80
