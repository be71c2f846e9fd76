"""Room pages: discovery order, going live, the room, the ended summary, ending a stream."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from accounts.services import follow_create
from livestreams import realtime
from livestreams.models import Stream, StreamStatus
from livestreams.services import gift_send
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import creator, fan_with, live_stream

pytestmark = pytest.mark.django_db


def test_discovery_orders_followed_first_then_by_viewers(client):
    popular, followed, _quiet = (
        live_stream(title="Popular"),
        live_stream(title="Followed"),
        live_stream(title="Quiet"),
    )
    Stream.objects.create(creator=creator(), title="Over", status=StreamStatus.ENDED)
    for n in range(5):
        realtime.viewers_join(popular.pk, f"viewer-{n}")
    realtime.viewers_join(followed.pk, "viewer-a")
    fan = UserFactory()
    follow_create(follower=fan, followee=followed.creator)
    client.force_login(fan)
    titles = [row[0].title for row in client.get("/live/").context["rows"]]
    assert titles == ["Followed", "Popular", "Quiet"]
    client.logout()
    titles = [row[0].title for row in client.get("/live/").context["rows"]]
    assert titles == ["Popular", "Followed", "Quiet"]


def test_discovery_empty_state(client):
    assert "Nobody is live right now" in client.get("/live/").content.decode()


def test_go_live_creates_a_stream_and_redirects_to_the_room(client):
    star = creator()
    client.force_login(star)
    response = client.post("/live/go/", {"title": "  Hello  ", "hls_url": "", "goal_coins": "1000"})
    stream = Stream.objects.get(creator=star)
    assert response.status_code == 302 and response["Location"] == f"/live/{stream.pk}/"
    assert (stream.title, stream.goal_coins, stream.is_live) == ("Hello", 1000, True)
    # Already live: the page sends the creator back to the room.
    assert client.get("/live/go/")["Location"] == f"/live/{stream.pk}/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "   "}, "This field is required."),
        ({"title": "x", "hls_url": "http://a.example/x.m3u8"}, "https://"),
    ],
)
def test_go_live_refuses_bad_input(client, data, message):
    client.force_login(creator())
    response = client.post("/live/go/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Stream.objects.exists()


def test_ineligible_user_sees_what_is_missing(client):
    client.force_login(UserFactory())
    body = client.get("/live/go/").content.decode()
    assert "You can't go live yet." in body and "At least 1,000 followers" in body
    client.post("/live/go/", {"title": "Sneaky"})
    assert not Stream.objects.exists()


def test_room_page_for_a_fan_shows_tray_with_money_values(client):
    stream = live_stream()
    fan = fan_with(0)
    client.force_login(fan)
    response = client.get(f"/live/{stream.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-gift="lion"' in body and "29,999" in body
    assert "$0.01" in body  # a Rose at the best USD package rate
    assert 'id="room-config"' in body and "<script>" not in body


@pytest.mark.parametrize(
    ("share", "terms"),
    [("0.5", "earns 1 diamond for every 2 coins"), ("0.6", "earns 3 diamonds for every 5 coins"),
     ("1", "earns 1 diamond for every coin")],
)  # fmt: skip
def test_the_tray_says_what_gifts_earn_the_creator(client, settings, share, terms):
    settings.CREATOR_SHARE = Decimal(share)
    stream = live_stream()
    stream.creator.profile.display_name = "Ada Sings"
    stream.creator.profile.save()
    client.force_login(fan_with(0))
    body = " ".join(client.get(f"/live/{stream.pk}/").content.decode().split())
    assert f"Ada Sings {terms} you gift in this stream" in body


def test_room_page_for_an_anonymous_visitor_has_no_tray(client):
    stream = live_stream()
    body = client.get(f"/live/{stream.pk}/").content.decode()
    assert "Sign in to chat and send gifts" in body and "data-tray" not in body


def test_room_page_query_count_is_fixed(client, django_assert_max_num_queries):
    stream = live_stream()
    client.force_login(fan_with(10))
    with django_assert_max_num_queries(14):
        client.get(f"/live/{stream.pk}/")


def test_ended_stream_shows_its_summary(client, settings):
    settings.GIFT_RATE_LIMIT = "100/10"
    stream = live_stream()
    fan = fan_with(100)
    gift_send(
        sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=2, key=str(uuid.uuid4())
    )
    client.force_login(stream.creator)
    client.post(f"/live/{stream.pk}/end/")
    body = client.get(f"/live/{stream.pk}/").content.decode()
    assert "Stream ended" in body and "Diamonds earned" in body
    assert ">40<" in body and ">20<" in body  # coins received, diamonds earned


def test_only_creator_or_staff_can_end(client):
    stream = live_stream()
    client.force_login(UserFactory())
    client.post(f"/live/{stream.pk}/end/")
    assert Stream.objects.get(pk=stream.pk).is_live
    client.force_login(UserFactory(is_staff=True))
    client.post(f"/live/{stream.pk}/end/")
    assert not Stream.objects.get(pk=stream.pk).is_live


def test_profile_links_to_the_live_stream(client):
    stream = live_stream(title="Right now")
    body = client.get(f"/@{stream.creator.profile.handle}/").content.decode()
    assert f'href="/live/{stream.pk}/"' in body and "Right now" in body


def test_staff_can_end_streams_from_admin(staff_client):
    stream = live_stream()
    staff_client.post(
        "/admin/livestreams/stream/", {"action": "end_streams", "_selected_action": [stream.pk]}
    )
    assert not Stream.objects.get(pk=stream.pk).is_live


def test_missing_room_is_404(client):
    assert client.get("/live/999999/").status_code == 404


def test_overlay_is_public_by_secret_token_and_can_be_reset(client):
    stream = live_stream(goal_coins=500)
    old = stream.overlay_token
    response = client.get(f"/overlay/{old}/")
    body = response.content.decode()
    assert response.status_code == 200 and "overlay-page" in body and "js/overlay.js" in body
    assert "/ 500 coins" in body
    assert client.get("/overlay/not-the-token/").status_code == 404

    client.force_login(UserFactory())
    client.post(f"/live/{stream.pk}/overlay-reset/")
    assert Stream.objects.get(pk=stream.pk).overlay_token == old  # not theirs to reset
    client.force_login(stream.creator)
    client.post(f"/live/{stream.pk}/overlay-reset/")
    assert Stream.objects.get(pk=stream.pk).overlay_token != old
    assert client.get(f"/overlay/{old}/").status_code == 404


@pytest.mark.parametrize(
    ("coins", "level"), [(0, 0), (9, 0), (10, 1), (19, 1), (20, 2), (40, 3), (30_002, 12)]
)
def test_gifter_levels_double(coins, level):
    from livestreams.selectors import gifter_level

    assert gifter_level(coins) == level


def test_chat_carries_the_senders_level_in_this_creators_rooms(settings):
    from livestreams.selectors import recent_chat
    from livestreams.services import chat_send

    stream = live_stream()
    fan = fan_with(100)
    gift_send(
        sender=fan, stream_id=stream.pk, gift_slug="love-bang", quantity=2, key=str(uuid.uuid4())
    )
    chat_send(user=fan, stream_id=stream.pk, text="hi")
    [line] = recent_chat(stream=stream)
    assert line["user"]["level"] == 3  # 50 coins
    other_room = live_stream()
    chat_send(user=fan, stream_id=other_room.pk, text="hello")
    assert recent_chat(stream=other_room)[0]["user"]["level"] == 0


def test_an_anonymous_gift_does_not_raise_the_public_badge():
    """A Galaxy sent anonymously would take a fan's badge from 0 to 7 on their next chat
    line, naming the sender; it counts toward nothing public, while the fan's named gifts do."""
    from livestreams.selectors import recent_chat
    from livestreams.services import chat_send

    stream = live_stream()
    fan = fan_with(2000)
    gift_send(sender=fan, stream_id=stream.pk, gift_slug="galaxy", quantity=1,
              key=str(uuid.uuid4()), anonymous=True)  # fmt: skip
    chat_send(user=fan, stream_id=stream.pk, text="who sent that?")
    assert recent_chat(stream=stream)[-1]["user"]["level"] == 0
    gift_send(sender=fan, stream_id=stream.pk, gift_slug="rose", quantity=10, key=str(uuid.uuid4()))
    chat_send(user=fan, stream_id=stream.pk, text="me, a rose")
    assert [line["user"]["level"] for line in recent_chat(stream=stream)] == [1, 1]


def test_fan_who_opts_out_of_rankings_shows_as_anonymous(settings):
    from accounts.services import profile_update
    from livestreams.selectors import top_gifters

    stream = live_stream()
    shy, loud = fan_with(100), fan_with(100)
    profile_update(profile=shy.profile, hide_from_rankings=True)
    gift_send(
        sender=shy, stream_id=stream.pk, gift_slug="doughnut", quantity=2, key=str(uuid.uuid4())
    )
    gift_send(
        sender=loud, stream_id=stream.pk, gift_slug="perfume", quantity=1, key=str(uuid.uuid4())
    )
    ranking = top_gifters(stream=stream)
    assert [(r["name"], r["coins"]) for r in ranking] == [
        ("Anonymous", 60),
        (loud.profile.name, 20),
    ]
    assert ranking[0]["handle"] is None


def test_live_ranking_follows_a_fan_leaving_the_rankings(
    room_frames, django_capture_on_commit_callbacks
):
    """Mid-stream: once the fan opts out (or is renamed), the next gift's ranking shows it."""
    from accounts.services import profile_update

    stream = live_stream()
    shy, loud = fan_with(100), fan_with(100)

    def gift(fan, slug):
        with django_capture_on_commit_callbacks(execute=True):
            gift_send(sender=fan, stream_id=stream.pk, gift_slug=slug, quantity=1,
                      key=str(uuid.uuid4()))  # fmt: skip
        return room_frames.of(stream.pk)[-1]["ranking"]

    assert gift(shy, "doughnut")["top"][0]["name"] == shy.profile.name
    with django_capture_on_commit_callbacks(execute=True):
        profile_update(profile=shy.profile, hide_from_rankings=True)
    top = gift(loud, "rose")["top"]
    assert [(line["name"], line["handle"], line["coins"]) for line in top] == [
        ("Anonymous", None, 30),
        (loud.profile.name, loud.profile.handle, 1),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        profile_update(profile=loud.profile, display_name="Loud Louie")
    assert gift(loud, "rose")["top"][1]["name"] == "Loud Louie"


def test_confirmation_threshold_is_the_fans_own(client):
    from accounts.services import profile_update

    stream = live_stream()
    fan = fan_with(0)
    profile_update(profile=fan.profile, gift_confirm_above_coins=250)
    client.force_login(fan)
    assert client.get(f"/live/{stream.pk}/").context["config"]["confirmAbove"] == 250


def test_profile_page_saves_gift_settings(user_client, user):
    response = user_client.post(
        "/accounts/profile/",
        {
            "handle": user.profile.handle,
            "gift_confirm_above_coins": "5000",
            "hide_from_rankings": "on",
        },
    )
    assert response.status_code == 302
    user.profile.refresh_from_db()
    assert (user.profile.gift_confirm_above_coins, user.profile.hide_from_rankings) == (5000, True)


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_go_live_with_a_cover_shows_it_in_discovery(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    star = creator()
    client.force_login(star)
    cover = SimpleUploadedFile("cover.png", _png(), content_type="image/png")
    assert client.post("/live/go/", {"title": "With cover", "cover": cover}).status_code == 302
    stream = Stream.objects.get(creator=star)
    assert stream.cover.name.startswith("covers/")
    assert f'src="{stream.cover.url}"' in client.get("/live/").content.decode()


def test_a_cover_that_is_not_an_image_is_refused(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(creator())
    fake = SimpleUploadedFile("cover.png", b"not an image", content_type="image/png")
    response = client.post("/live/go/", {"title": "Bad cover", "cover": fake})
    assert response.status_code == 400
    assert not Stream.objects.exists()


def test_an_anonymous_gift_starts_a_streak_of_its_own(
    room_frames, django_capture_on_commit_callbacks
):
    """A named Perfume then an anonymous one: counted as one streak, the anonymous frame's
    "× 2" would tell the room who sent it."""
    stream = live_stream()
    fan = fan_with(100)
    for anonymous in (False, True, False, True):
        with django_capture_on_commit_callbacks(execute=True):
            gift_send(sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=1,
                      key=str(uuid.uuid4()), anonymous=anonymous)  # fmt: skip
    frames = room_frames.of(stream.pk)
    assert [(f["sender"]["anonymous"], f["combo"]) for f in frames] == [
        (False, 1), (True, 1), (False, 2), (True, 2),
    ]  # fmt: skip
