"""The avatar picker: a button-styled label for a visually hidden (still focusable) file
input, a preview, and a way to remove the picture; not the browser's bare button."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Profile
from accounts.services import profile_update

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 128, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def _input(body: str) -> str:
    return re.search(r'<input type="file"[^>]*name="avatar"[^>]*>', body).group(0)


def test_the_file_input_is_hidden_visually_but_labelled_and_focusable(user_client):
    body = user_client.get("/accounts/profile/").content.decode()
    field = _input(body)
    assert 'class="visually-hidden"' in field  # not display:none: keyboards still reach it
    assert "hidden" not in field.replace('class="visually-hidden"', "")
    assert 'accept="image/png,image/jpeg,image/webp,image/gif"' in field
    assert re.search(r'<label class="btn[^"]*" for="id_avatar"[^>]*>Choose a picture</label>', body)
    labelled_by = re.search(r'aria-labelledby="([^"]+)"', field).group(1).split()
    assert all(f'id="{element_id}"' in body for element_id in labelled_by)
    assert "Currently:" not in body and "Change:" not in body  # the stock widget's words
    assert '<script src="/static/js/picture.js" defer></script>' in body
    assert "data-picture-preview" in body


def test_a_current_avatar_is_previewed_and_can_be_removed(user_client, user):
    profile_update(profile=user.profile, avatar=SimpleUploadedFile("me.png", _png()))
    body = user_client.get("/accounts/profile/").content.decode()
    url = Profile.objects.get(user=user).avatar.url
    assert re.search(
        rf'data-picture-preview>\s*<img src="{re.escape(url)}" alt="Current picture">', body
    )
    assert ">Change picture</label>" in body
    assert re.search(r'<input type="checkbox" name="avatar-clear" id="avatar-clear_id"', body)

    response = user_client.post(
        "/accounts/profile/",
        {"handle": user.profile.handle, "avatar-clear": "on", "gift_confirm_above_coins": "1000"},
    )
    assert response.status_code == 302
    assert not Profile.objects.get(user=user).avatar


def test_an_upload_error_sits_with_the_picker(user_client, user):
    bad = SimpleUploadedFile("evil.png", b"not an image", content_type="image/png")
    response = user_client.post(
        "/accounts/profile/",
        {"handle": user.profile.handle, "avatar": bad, "gift_confirm_above_coins": "1000"},
    )
    body = response.content.decode()
    start = body.index('<div class="field field-picture field-invalid">')
    block = body[start : body.index('<div class="field', start + 1)]
    assert 'id="id_avatar_error"' in block and "Upload a" in block
    assert 'aria-invalid="true"' in _input(body)
