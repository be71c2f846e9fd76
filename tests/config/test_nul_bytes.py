"""A NUL byte in a request never reaches the database.

PostgreSQL text cannot hold one: a NUL in a path segment, a query value or the session
cookie reached a query and answered 500 (DataError). SQLite accepts NUL, so these tests
prove the refusal on PostgreSQL and check the answers on both.
"""

from __future__ import annotations

import pytest

from livestreams.models import Stream
from tests.accounts.factories import UserFactory
from tests.livestreams.factories import live_stream

pytestmark = pytest.mark.django_db

PATHS = [
    "/@%00/",
    "/@fan%00/",
    "/overlay/%00/",
    "/overlay/tok%00en/",
    "/wallet/checkout/%00/",
    "/wallet/checkout/cs_test%00/",
    "/accounts/confirm-email/%00/",
    "/admin/accounts/user/%00/change/",
]


@pytest.mark.parametrize("url", PATHS)
def test_nul_in_a_path_segment_is_not_found(client, url):
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


@pytest.mark.parametrize("url", ["/@%00/follow/", "/@%00/unfollow/"])
def test_nul_in_a_post_path_is_not_found(client, url):
    client.force_login(UserFactory())
    assert client.post(url).status_code == 404


def test_the_not_found_page_keeps_the_sites_headers(client):
    """The refusal is an ordinary 404: it goes out through the rest of the middleware."""
    response = client.get("/@%00/")
    assert "Content-Security-Policy" in response
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/wallet/recharge/?status__exact=%00",
        "/admin/wallet/recharge/?q=%00",
        "/admin/accounts/user/?email%00=x",
        "/wallet/history/?page=1%00",
        "/live/?x=%00",
    ],
)
def test_nul_in_a_query_value_or_name_is_a_bad_request(staff_client, url):
    assert staff_client.get(url).status_code == 400


def test_nul_in_the_session_cookie_is_no_session(client):
    """A session key with a NUL is no session, as any unknown key is: the visitor is
    anonymous and is sent to log in."""
    response = client.get("/wallet/", HTTP_COOKIE="sessionid=abcdefghij\x00klmnop")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_good_session_survives_a_bad_cookie_beside_it(client):
    user = UserFactory()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    response = client.get("/wallet/", HTTP_COOKIE=f"sessionid={session}; other=a\x00b")
    assert response.status_code == 200


def test_a_real_overlay_token_still_works(client):
    stream = live_stream()
    assert client.get(f"/overlay/{stream.overlay_token}/").status_code == 200
    assert Stream.objects.filter(pk=stream.pk).exists()


async def test_the_refusals_hold_under_asgi(async_client):
    """The site is served by daphne: the async middleware path refuses the same way."""
    assert (await async_client.get("/@%00/")).status_code == 404
    assert (await async_client.get("/live/?x=%00")).status_code == 400
