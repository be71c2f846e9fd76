"""The ended stream's page: viewers see its length, gifts and top gifters; what it earned is
for the creator (and staff) alone."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from livestreams.services import gift_send, stream_end
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import DESKTOP, PHONE
from tests.livestreams.factories import fan_with, live_stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_summary_hides_the_income_from_viewers(live_server, open_page, shot):
    stream = live_stream(title="Sunday covers")
    fan = fan_with(5_000, profile__display_name="Galaxy Giver")
    gift_send(
        sender=fan, stream_id=stream.pk, gift_slug="galaxy", quantity=3, key=str(uuid.uuid4())
    )
    stream_end(stream=stream, by=stream.creator)
    path = stream.get_absolute_url()

    for who, size in [("viewer", PHONE), ("viewer", DESKTOP), ("creator", PHONE)]:
        user = UserFactory() if who == "viewer" else stream.creator
        page = open_page(live_server.url, user, path, viewport=size)
        stats = page.locator(".summary-stats")
        expect(stats).to_contain_text("Duration")
        expect(stats).to_contain_text("Gifts")
        expect(page.locator(".ranking-list")).to_contain_text("Galaxy Giver")
        expect(page.locator(".ranking-list")).to_contain_text("3,000 coins")
        if who == "viewer":
            for private in ("Coins received", "Diamonds earned", "Peak viewers", "1,500"):
                expect(page.locator("main")).not_to_contain_text(private)
        else:
            figure = {
                label: stats.locator("div", has_text=label).locator("strong")
                for label in ("Coins received", "Diamonds earned")
            }
            expect(figure["Coins received"]).to_have_text("3,000")
            expect(figure["Diamonds earned"]).to_have_text("1,500")
        shot(page, f"48-summary-{who}-{size['width']}")
