"""Profiles: handle rules, editing, avatars, the public page."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Profile
from accounts.services import profile_update
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _png(size=(64, 64), color=(255, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "handle",
    [
        "ab",
        "Has Space",
        "-dash",
        "trailing.",
        "dou..ble",
        "émoji",
        "x" * 25,
        ".lead",
        "admin",
        "live",
    ],
)
def test_malformed_or_reserved_handles_are_refused(user, handle):
    before = user.profile.handle
    with pytest.raises(ValidationError):
        profile_update(profile=user.profile, handle=handle)
    assert Profile.objects.get(user=user).handle == before


@pytest.mark.parametrize("handle", ["abc", "luna.sings", "chef_kenji", "a1_", "@MixedCase"])
def test_valid_handles_are_normalised(user, handle):
    profile_update(profile=user.profile, handle=handle)
    assert Profile.objects.get(user=user).handle == handle.removeprefix("@").lower()


def test_duplicate_handle_is_refused_on_the_edit_page(user_client, other_user):
    response = user_client.post(
        "/accounts/profile/", {"handle": other_user.profile.handle.upper(), "display_name": "x"}
    )
    assert response.status_code == 400
    assert "That handle is taken." in response.content.decode()


def test_rejected_edit_changes_nothing(user_client, user):
    before = Profile.objects.get(user=user)
    response = user_client.post(
        "/accounts/profile/",
        {"handle": "ok.handle", "display_name": "New", "birth_date": "2999-01-01"},
    )
    assert response.status_code == 400
    assert "can&#x27;t be in the future" in response.content.decode()
    after = Profile.objects.get(user=user)
    assert (after.handle, after.display_name) == (before.handle, before.display_name)


def test_edit_profile_saves_and_redirects(user_client, user):
    response = user_client.post(
        "/accounts/profile/",
        {
            "handle": "new.me",
            "display_name": "New Me",
            "bio": "hi",
            "birth_date": "2000-05-01",
            "country": "GB",
            "gift_confirm_above_coins": "1000",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/@new.me/"
    profile = Profile.objects.get(user=user)
    assert (profile.handle, profile.display_name, profile.country) == ("new.me", "New Me", "GB")
    assert profile.preferred_currency == "GBP"


def test_unknown_country_is_refused(user):
    with pytest.raises(ValidationError):
        profile_update(profile=user.profile, country="XX")


@pytest.mark.parametrize(
    ("country", "currency"), [("US", "USD"), ("KR", "KRW"), ("IN", "INR"), ("", "USD")]
)
def test_preferred_currency_follows_country(user, country, currency):
    profile_update(profile=user.profile, country=country)
    assert user.profile.preferred_currency == currency


def test_avatar_upload_is_accepted(user_client, user):
    avatar = SimpleUploadedFile("me.png", _png(), content_type="image/png")
    response = user_client.post(
        "/accounts/profile/",
        {"handle": user.profile.handle, "avatar": avatar, "gift_confirm_above_coins": "1000"},
    )
    assert response.status_code == 302
    assert Profile.objects.get(user=user).avatar.name.endswith(".png")


def test_oversize_avatar_is_refused(user_client, user, settings):
    settings.AVATAR_MAX_BYTES = 1000
    avatar = SimpleUploadedFile("big.png", _png(size=(400, 400), color=(1, 2, 3)) + b"\0" * 2000)
    response = user_client.post(
        "/accounts/profile/",
        {"handle": user.profile.handle, "avatar": avatar, "gift_confirm_above_coins": "1000"},
    )
    assert response.status_code == 400
    assert "the limit is 1000" in response.content.decode()
    assert not Profile.objects.get(user=user).avatar


def test_non_image_avatar_is_refused(user_client, user):
    avatar = SimpleUploadedFile("evil.png", b"<?php echo 'hi'; ?>", content_type="image/png")
    response = user_client.post(
        "/accounts/profile/",
        {"handle": user.profile.handle, "avatar": avatar, "gift_confirm_above_coins": "1000"},
    )
    assert response.status_code == 400
    assert not Profile.objects.get(user=user).avatar


def test_every_new_user_gets_a_unique_profile(django_user_model):
    first = django_user_model.objects.create_user(email="same.name@example.com", password="x")
    second = django_user_model.objects.create_user(email="same.name@example.org", password="x")
    assert first.profile.handle == "samename"
    assert second.profile.handle.startswith("samename")
    assert first.profile.handle != second.profile.handle


def test_profile_page_is_public_and_case_insensitive(client, user):
    profile_update(profile=user.profile, handle="luna.sings", display_name="Luna <b>Sings</b>")
    response = client.get("/@LUNA.sings/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Luna &lt;b&gt;Sings&lt;/b&gt;" in body
    assert "Sign in to follow" in body


def test_missing_profile_page_is_a_real_404(client):
    response = client.get("/@nobody.here/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


def test_profile_page_query_count_does_not_grow_with_followers(
    client, django_assert_max_num_queries
):
    star = UserFactory()
    for fan in UserFactory.create_batch(5):
        fan.following_set.create(followee=star)
    with django_assert_max_num_queries(4):
        client.get(f"/@{star.profile.handle}/")
