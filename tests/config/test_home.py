"""The home page: the streams live now for everyone, the product pitch for an empty site."""

from __future__ import annotations

import re

import pytest

from livestreams import realtime
from livestreams.models import Stream, StreamStatus
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import creator, live_stream

pytestmark = pytest.mark.django_db

MOCKUP = "Live · 1.2K"


def _cards(body: str) -> list[str]:
    return re.findall(r'<a class="stream-card" href="(/live/\d+/)"', body)


@pytest.mark.parametrize("signed_in", [False, True])
def test_home_lists_the_streams_live_now(client, signed_in):
    busy, quiet = live_stream(title="Busy room"), live_stream(title="Quiet room")
    Stream.objects.create(creator=creator(), title="Long over", status=StreamStatus.ENDED)
    realtime.viewers_join(busy.pk, "viewer-1")
    if signed_in:
        client.force_login(UserFactory())
    body = client.get("/").content.decode()
    assert _cards(body) == [busy.get_absolute_url(), quiet.get_absolute_url()]
    assert "Busy room" in body and "Quiet room" in body and "Long over" not in body
    # The made-up room is for an empty site only: with real rooms it would be a lie.
    assert MOCKUP not in body


def test_home_cards_are_the_discovery_cards(client):
    """One card markup for both pages (an include), so they can't drift apart."""
    live_stream(title="Same card")
    home = client.get("/")
    discover = client.get("/live/")
    card = re.compile(r'<a class="stream-card".*?</a>', re.S)
    assert card.findall(home.content.decode()) == card.findall(discover.content.decode())
    assert "livestreams/_stream_cards.html" in [t.name for t in home.templates]
    assert "livestreams/_stream_cards.html" in [t.name for t in discover.templates]


def test_home_on_an_empty_site_keeps_the_pitch_and_the_mockup(client):
    body = client.get("/").content.decode()
    assert _cards(body) == []
    assert MOCKUP in body and "send animated gifts" in body


def test_home_query_count_does_not_grow_with_the_streams(client, django_assert_max_num_queries):
    for n in range(6):
        live_stream(title=f"Room {n}")
    client.force_login(UserFactory())
    with django_assert_max_num_queries(8):
        assert len(_cards(client.get("/").content.decode())) == 6
