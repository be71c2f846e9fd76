"""Validation of handles and avatars, shared by forms, models and services."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from PIL import Image

HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_]|\.(?!\.)){1,22}[a-z0-9_]$")
HANDLE_HELP = (
    "3 to 24 characters: lowercase letters, digits, underscores and dots; it must start "
    "with a letter or digit and cannot end with a dot."
)
# Handles that would read as the site speaking, or collide with top-level pages.
RESERVED_HANDLES = frozenset(
    {
        "admin", "administrator", "staff", "support", "help", "giftcast", "official",
        "live", "wallet", "creator", "creators", "overlay", "accounts", "account",
        "settings", "static", "media", "api", "ws", "root", "system", "anonymous",
        "moderator", "security", "billing", "payments", "payouts", "healthz", "readyz",
    }
)  # fmt: skip

AVATAR_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
AVATAR_MAX_PIXELS = 4096


def normalize_handle(value: str) -> str:
    return value.strip().removeprefix("@").lower()


def validate_handle(value: str) -> None:
    if not HANDLE_RE.match(value):
        raise ValidationError(f"Enter a valid handle. {HANDLE_HELP}", code="invalid_handle")
    if value in RESERVED_HANDLES:
        raise ValidationError("That handle is reserved. Pick another.", code="reserved_handle")


def validate_avatar(upload) -> None:
    """Refuse files over AVATAR_MAX_BYTES, non-images and huge or exotic images (used for
    every picture people upload: avatars, stream covers)."""
    limit = settings.AVATAR_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            f"The image is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}.",
            code="avatar_too_large",
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except Exception as exc:
        raise ValidationError(
            "Upload a JPEG, PNG, WebP or GIF image.", code="avatar_not_image"
        ) from exc
    finally:
        upload.seek(0)
    if image_format not in AVATAR_FORMATS:
        raise ValidationError("Upload a JPEG, PNG, WebP or GIF image.", code="avatar_format")
    if width > AVATAR_MAX_PIXELS or height > AVATAR_MAX_PIXELS:
        raise ValidationError(
            f"The image is {width}×{height} pixels; the limit is {AVATAR_MAX_PIXELS} per side.",
            code="avatar_dimensions",
        )
