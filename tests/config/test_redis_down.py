"""With Redis unreachable the site degrades instead of answering 500: pages render (viewer
counts shown as unknown, not as 0), sign-in works with allauth's rate limits kept in the
process's own memory (and a warning logged), writes whose room frame can't go out are kept
and say so in the log, and /readyz still says 503."""

from __future__ import annotations

import logging

import pytest
import redis

from accounts.services import profile_update
from config import cache
from livestreams.models import StreamGifter
from livestreams.realtime import boards
from tests import redis_down
from tests.conftest import PASSWORD
from tests.livestreams.factories import fan_with, live_stream

pytestmark = pytest.mark.django_db
redis_away = pytest.mark.usefixtures("redis_unreachable")


@pytest.fixture
def redis_unreachable(settings):
    yield from redis_down.unreachable(settings)


@pytest.fixture
def own_redis(settings):
    yield from redis_down.own_running(settings)


@redis_away
def test_home_and_discovery_render_with_viewer_counts_unknown(client):
    stream = live_stream(title="Rainy day piano")
    assert client.get("/").status_code == 200
    response = client.get("/live/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Rainy day piano" in body and stream.get_absolute_url() in body
    assert "data-viewers-unknown" in body
    assert "> 0</span>" not in body  # what the pill showed for a count it never had


@redis_away
def test_room_page_renders_and_shows_no_count_until_the_room_says(client, user_client):
    stream = live_stream()
    for who in (client, user_client):
        response = who.get(stream.get_absolute_url())
        assert response.status_code == 200
        body = response.content.decode()
        assert "<span data-viewers>0</span>" not in body
        assert "data-viewers>–</span>" in body


@redis_away
def test_login_works_and_says_its_rate_limits_are_this_process_only(client, user, caplog):
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "this process's memory" in warnings[0].getMessage()
    ready = client.get("/readyz")  # the stand-in is for rate limits only: not ready
    assert ready.status_code == 503 and ready.json()["cache"].startswith("error")


@redis_away
def test_failed_logins_are_still_limited_while_redis_is_away(client, user):
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@redis_away
def test_a_creator_ends_their_stream_and_the_room_hears_when_it_resyncs(
    client, caplog, django_capture_on_commit_callbacks
):
    stream = live_stream()
    client.force_login(stream.creator)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/live/{stream.pk}/end/")
    assert response.status_code == 302
    stream.refresh_from_db()
    assert stream.status == "ended"  # a resyncing viewer's state says so
    assert any("stream.ended not sent" in r.getMessage() for r in caplog.records)


@redis_away
def test_a_gifter_renames_themselves_and_their_board_line_waits_for_the_rebuild(
    django_capture_on_commit_callbacks,
):
    stream, fan = live_stream(), fan_with(100)
    StreamGifter.objects.create(stream=stream, sender=fan, anonymous=False, coins=5)
    with django_capture_on_commit_callbacks(execute=True):
        profile_update(profile=fan.profile, display_name="Renamed")
    assert fan.profile.display_name == "Renamed"
    assert stream.pk in boards._boards_stale  # rebuilt, labels and all, at the next gift


def test_rate_limits_count_on_redis_again_once_it_is_back(client, user, own_redis, monkeypatch):
    monkeypatch.setattr(cache, "AWAY_SECONDS", 0.0)  # try Redis again at the next call
    own_redis.stop()
    response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert any("allauth:rl:" in key for key in cache._local._cache)  # counted here meanwhile
    own_redis.start()
    client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    with redis.Redis.from_url(own_redis.url) as server:
        assert server.keys("*allauth:rl:*")  # counted where every process sees it
