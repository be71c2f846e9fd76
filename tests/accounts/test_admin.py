"""Staff run accounts from Django admin: lists with search and the creator-exception actions."""

from __future__ import annotations

import pytest

from accounts.models import Profile
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/admin/accounts/user/", "/admin/accounts/profile/", "/admin/accounts/follow/"]
)
def test_admin_lists_render_with_search(staff_client, url):
    UserFactory.create_batch(3)
    assert staff_client.get(url, {"q": "example"}).status_code == 200


def test_profile_admin_filters_by_followers(staff_client):
    assert staff_client.get("/admin/accounts/profile/", {"followers": "lt1000"}).status_code == 200


def test_grant_and_revoke_creator_exception_action(staff_client):
    target = UserFactory()
    data = {"action": "grant_creator_exception", "_selected_action": [target.profile.pk]}
    response = staff_client.post("/admin/accounts/profile/", data)
    assert response.status_code == 302
    profile = Profile.objects.get(pk=target.profile.pk)
    assert profile.creator_exception
    assert profile.creator_exception_granted_by == staff_client.staff

    data["action"] = "revoke_creator_exception"
    staff_client.post("/admin/accounts/profile/", data)
    assert not Profile.objects.get(pk=target.profile.pk).creator_exception


def test_non_staff_cannot_open_admin(user_client):
    response = user_client.get("/admin/accounts/profile/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
