"""The room page and the ended stream's summary, as each person sees them."""

from __future__ import annotations

import re
import uuid

import pytest

from livestreams import selectors
from livestreams.models import SentGift
from livestreams.services import gift_send, stream_end
from tests.accounts.factories import UserFactory, add_followers
from tests.livestreams.factories import fan_with, live_stream

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def ended(settings):
    """A stream that took 40 coins (two Perfumes) and earned 20 diamonds, then ended."""
    settings.GIFT_RATE_LIMIT = "100/10"
    stream = live_stream(title="Late set")
    fan = fan_with(100, profile__display_name="Rich Fan")
    gift_send(
        sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=2, key=str(uuid.uuid4())
    )
    stream_end(stream=stream, by=stream.creator)
    return stream


@pytest.mark.parametrize("who", ["visitor", "fan", "gifter"])
def test_ended_summary_hides_the_income_from_viewers(client, ended, who):
    """Viewers see the duration, the gifts and the top gifters; not the coins received, the
    diamonds earned or the peak viewers."""
    if who == "fan":
        client.force_login(UserFactory())
    elif who == "gifter":
        client.force_login(SentGift.objects.get(stream=ended).sender)
    body = _text(client.get(ended.get_absolute_url()))
    assert "Duration" in body and "Top gifters" in body and "Rich Fan" in body
    assert re.search(r"<strong>2</strong><span>Gifts</span>", body)
    for private in ("Coins received", "Diamonds earned", "Peak viewer", ">20<"):
        assert private not in body


@pytest.mark.parametrize("who", ["creator", "staff"])
def test_ended_summary_shows_the_income_to_the_creator_and_staff(client, ended, who):
    user = ended.creator if who == "creator" else UserFactory(is_staff=True)
    client.force_login(user)
    body = _text(client.get(ended.get_absolute_url()))
    assert "<strong>40</strong><span>Coins received</span>" in body
    assert "<strong>20</strong><span>Diamonds earned</span>" in body
    assert "Peak viewers" in body


def test_summary_counts_are_plural_only_when_plural(client, settings):
    settings.GIFT_RATE_LIMIT = "100/10"
    stream = live_stream()
    fan = fan_with(1, profile__display_name="One Rose")
    gift_send(sender=fan, stream_id=stream.pk, gift_slug="rose", quantity=1, key=str(uuid.uuid4()))
    stream_end(stream=stream, by=stream.creator)
    client.force_login(stream.creator)
    body = _text(client.get(stream.get_absolute_url()))
    assert "<span>One Rose</span><span>1 coin</span>" in body
    assert "<strong>1</strong><span>Gift</span>" in body
    assert "<strong>1</strong><span>Coin received</span>" in body


def test_summary_selector_leaves_the_income_out_unless_asked(ended):
    assert selectors.stream_summary(stream=ended, income=False)["income"] is None
    income = selectors.stream_summary(stream=ended, income=True)["income"]
    assert (income["coins"], income["diamonds"]) == (40, 20)


@pytest.mark.parametrize(
    ("high", "choices"),
    [(99, [1, 5, 10, 50, 99]), (10, [1, 5, 10]), (250, [1, 5, 10, 50, 100, 250]), (1, [1])],
)
def test_the_tray_offers_quantities_up_to_the_maximum(client, settings, high, choices):
    settings.GIFT_MAX_QUANTITY = high
    assert selectors.gift_quantities() == choices
    stream = live_stream()
    client.force_login(fan_with(0))
    body = client.get(stream.get_absolute_url()).content.decode()
    offered = [int(n) for n in re.findall(r'name="quantity" value="(\d+)"', body)]
    assert offered == (choices if len(choices) > 1 else [])


def test_room_shows_the_follower_count_with_separators(client):
    stream = live_stream()
    add_followers(stream.creator, 53)  # 1,053 with the 1,000 every creator has here
    client.force_login(fan_with(0))
    body = _text(client.get(stream.get_absolute_url()))
    assert "1,053 followers" in body


def test_room_header_offers_the_title_a_tap_away(client):
    stream = live_stream(title="Acoustic hour")
    body = _text(client.get(stream.get_absolute_url()))
    assert re.search(
        r'<details class="room-about">.*<p class="room-about-title">Acoustic hour</p>', body
    )
