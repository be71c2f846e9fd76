"""The site's own error pages (400, 404, 500) as production shows them, and the favicon."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings

from config import views

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_answered(client):
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302)
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_pages_link_their_icons(client):
    body = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/img/favicon.ico" sizes="32x32">' in body
    assert '<link rel="icon" href="/static/img/logo.svg" type="image/svg+xml">' in body


@override_settings(DEBUG=False)
def test_404_is_the_sites_own_page_with_debug_off(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert "Nothing here" in body
    assert 'class="site-header"' in body and 'href="/live/"' in body  # a way on
    assert "Using the URLconf" not in body  # not the debug page listing every pattern


@override_settings(DEBUG=False)
def test_404_keeps_the_visitor_signed_in(client, user):
    client.force_login(user)
    body = client.get("/no/such/page/").content.decode()
    assert "Sign out" in body and "Sign in" not in body


@override_settings(DEBUG=False)
def test_400_is_the_sites_own_page(client):
    response = client.get("/", {"q": "a\x00b"})  # config.middleware.refuse_nul: a bad request
    assert response.status_code == 400
    assert "400.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert "That request didn't make sense" in body and 'class="site-header"' in body


@override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"])
def test_400_for_a_host_we_dont_serve_still_renders():
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "That request didn't make sense" in response.content.decode()


def test_500_needs_no_request_context_and_no_database(django_assert_num_queries):
    """The failure may be the database or a context processor: the page needs neither."""
    request = RequestFactory().get("/")  # no session, no user: nothing to lean on
    with django_assert_num_queries(0):
        response = views.error_500(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert 'href="/static/img/favicon.ico"' in body and 'class="brand"' in body
