"""An automated accessibility check (axe-core, vendored in static/vendor/) of the pages a new
person meets first: home, a live room, recharge and sign-up, at phone and desktop widths.
No serious or critical violation may stand; the lesser ones are axe's advice, not the bar."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from livestreams.models import ChatMessage
from tests.e2e.conftest import DESKTOP, PHONE
from tests.livestreams.factories import fan_with, live_stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = "/static/vendor/axe.min.js"
BAR = {"serious", "critical"}


def axe_violations(page, base: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands, one line each
    (rule, impact, the elements it names). axe comes from the site's own static files, so the
    site's Content-Security-Policy lets it run."""
    page.add_script_tag(url=base + AXE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in BAR
    ]


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize(
    "where", ["home", "room", "room-visitor", "room-creator", "recharge", "signup"]
)
def test_pages_have_no_serious_accessibility_violations(asgi_server, open_page, where, size):
    stream = live_stream(title="Accessible songs", goal_coins=500)
    ChatMessage.objects.create(stream=stream, user=fan_with(0), text="Hello there")
    user = stream.creator if where == "room-creator" else None
    if where in ("room", "recharge"):
        user = fan_with(100)
    room = f"/live/{stream.pk}/"
    path = {
        "home": "/", "room": room, "room-visitor": room, "room-creator": room,
        "recharge": "/wallet/recharge/", "signup": "/accounts/signup/",
    }[where]  # fmt: skip
    page = open_page(asgi_server, user, path, viewport=size)
    if where.startswith("room"):
        expect(page.locator("[data-viewers]")).to_have_text("1")
        expect(page.locator("[data-chat] li", has_text="Hello there")).to_be_visible()
        if where == "room-visitor":
            page.locator(".room-about summary").click()  # the title and follower count
        if where == "room-creator":
            page.locator("button.moderatable").click()  # mute and ban
        if where == "room":
            expect(page.locator("[data-balance]")).to_have_text("100")
            if size is PHONE:
                page.locator("[data-open-tray]").click()
            page.locator("[data-gift=rose]").click()
    found = axe_violations(page, asgi_server)
    assert found == [], f"{path} at {size['width']} px:\n" + "\n".join(found)
