"""The "Go live" link is offered to those who may go live; everybody else sees the way there."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import RequestFactory

from accounts.context_processors import viewer
from accounts.selectors import creator_eligibility, may_go_live
from accounts.services import creator_exception_set
from tests.accounts.factories import UserFactory, add_followers
from tests.livestreams.factories import creator, live_stream

pytestmark = pytest.mark.django_db

PAGES = ["/", "/live/", "/wallet/"]


def _links(body: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for href, text in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>\s*([^<]+?)\s*</a>', body):
        found.setdefault(text, []).append(href)
    return found


@pytest.mark.parametrize("url", PAGES)
def test_a_creator_is_offered_go_live(client, url):
    live_stream()  # someone else's room, so /live/ has cards
    client.force_login(creator())
    links = _links(client.get(url).content.decode())
    assert "/live/go/" in links.get("Go live", [])
    assert "Become a creator" not in links


@pytest.mark.parametrize("url", PAGES)
def test_a_fan_is_shown_how_to_become_a_creator_instead(client, url):
    live_stream()
    client.force_login(UserFactory())
    body = client.get(url).content.decode()
    assert 'href="/live/go/"' not in body
    assert "/become-a-creator/" in _links(body).get("Become a creator", [])


def test_a_visitor_is_offered_neither(client):
    body = client.get("/live/").content.decode()
    assert 'href="/live/go/"' not in body and 'href="/become-a-creator/"' not in body


def test_a_creator_without_followers_but_with_the_staff_exception_may_go_live(client):
    user = UserFactory(profile__birth_date=dt.date(1990, 1, 1))
    creator_exception_set(profile=user.profile, granted=True, by=UserFactory(is_staff=True))
    client.force_login(user)
    assert 'href="/live/go/"' in client.get("/").content.decode()


def test_the_offer_costs_at_most_one_query_and_only_where_shown(client, django_assert_num_queries):
    """The eligibility is worked out lazily: a page whose template never asks pays nothing."""
    request = RequestFactory().get("/")
    request.user = creator()
    request.user.profile  # noqa: B018 - loaded, as the page chrome loads it
    with django_assert_num_queries(0):
        context = viewer(request)
    with django_assert_num_queries(1):
        assert context["viewer_may_go_live"]
        assert context["viewer_may_go_live"]


def test_a_fans_pages_pay_no_query_for_the_offer(django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = UserFactory()  # no birth date: the age rule already says no
    request.user.profile  # noqa: B018
    with django_assert_num_queries(0):
        assert not viewer(request)["viewer_may_go_live"]


@pytest.mark.parametrize(
    ("birth_date", "followers", "exception"),
    [
        (None, 1000, False),
        (dt.date(2015, 1, 1), 1000, True),  # a minor: the exception never waives the age rule
        (dt.date(1990, 1, 1), 999, False),
        (dt.date(1990, 1, 1), 999, True),
        (dt.date(1990, 1, 1), 1000, False),
    ],
)
def test_may_go_live_answers_as_creator_eligibility(birth_date, followers, exception):
    user = UserFactory(profile__birth_date=birth_date)
    add_followers(user, followers)
    if exception:
        creator_exception_set(profile=user.profile, granted=True, by=UserFactory(is_staff=True))
    user = type(user).objects.get(pk=user.pk)
    assert may_go_live(user=user) == creator_eligibility(user=user).eligible
