"""Follow rules: POST with CSRF, no self-follow, one follow per pair, counts on the profile."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.test import Client

from accounts.exceptions import FollowError
from accounts.models import Follow
from accounts.services import follow_create, follow_delete
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_follow_and_unfollow_through_the_profile_page(user_client, user, other_user):
    handle = other_user.profile.handle
    response = user_client.post(f"/@{handle}/follow/", follow=True)
    assert response.status_code == 200
    assert Follow.objects.filter(follower=user, followee=other_user).count() == 1
    assert b"Following" in response.content
    assert response.context["profile"].follower_count == 1

    response = user_client.post(f"/@{handle}/unfollow/", follow=True)
    assert not Follow.objects.filter(follower=user, followee=other_user).exists()
    assert response.context["profile"].follower_count == 0


def test_repeated_follow_is_refused_with_a_message(user_client, user, other_user):
    handle = other_user.profile.handle
    user_client.post(f"/@{handle}/follow/")
    response = user_client.post(f"/@{handle}/follow/", follow=True)
    assert Follow.objects.filter(follower=user, followee=other_user).count() == 1
    assert f"You already follow @{handle}." in [str(m) for m in response.context["messages"]]


def test_self_follow_is_refused(user_client, user):
    response = user_client.post(f"/@{user.profile.handle}/follow/", follow=True)
    assert not Follow.objects.exists()
    assert "You can't follow yourself." in [str(m) for m in response.context["messages"]]


def test_self_follow_is_refused_by_the_database_too(user):
    with pytest.raises(IntegrityError):
        Follow.objects.create(follower=user, followee=user)


def test_unfollow_without_follow_says_so(user, other_user):
    with pytest.raises(FollowError, match="don't follow"):
        follow_delete(follower=user, followee=other_user)


def test_follow_of_a_missing_user_is_404(user_client):
    assert user_client.post("/@nobody.here/follow/").status_code == 404
    assert not Follow.objects.exists()


def test_follow_of_an_inactive_user_is_404(user_client):
    ghost = UserFactory(is_active=False)
    assert user_client.post(f"/@{ghost.profile.handle}/follow/").status_code == 404


def test_follow_needs_post(user_client, other_user):
    assert user_client.get(f"/@{other_user.profile.handle}/follow/").status_code == 405


def test_follow_needs_login(client, other_user):
    response = client.post(f"/@{other_user.profile.handle}/follow/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Follow.objects.exists()


def test_follow_without_csrf_token_is_403(user, other_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(f"/@{other_user.profile.handle}/follow/")
    assert response.status_code == 403
    assert b"This form expired" in response.content
    assert not Follow.objects.exists()


def test_service_refuses_duplicates_without_a_second_row(user, other_user):
    follow_create(follower=user, followee=other_user)
    with pytest.raises(FollowError):
        follow_create(follower=user, followee=other_user)
    assert Follow.objects.count() == 1


def test_counts_on_profile_page(client):
    star = UserFactory()
    fans = UserFactory.create_batch(3)
    for fan in fans:
        follow_create(follower=fan, followee=star)
    follow_create(follower=star, followee=fans[0])
    response = client.get(f"/@{star.profile.handle}/")
    assert response.context["profile"].follower_count == 3
    assert response.context["profile"].following_count == 1
