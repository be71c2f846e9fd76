"""Writes of the accounts app. Views and admin actions call these, never the ORM directly."""

from __future__ import annotations

import re
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import exceptions as errors
from .models import Follow, Profile, User
from .validators import RESERVED_HANDLES, normalize_handle

PROFILE_FIELDS = {
    "handle", "display_name", "avatar", "bio", "birth_date", "country",
    "gift_confirm_above_coins", "hide_from_rankings",
}  # fmt: skip


def _handle_base(email: str) -> str:
    base = re.sub(r"[^a-z0-9_]", "", email.split("@", 1)[0].lower())[:18]
    if len(base) < 3 or base in RESERVED_HANDLES:
        base = f"fan{base}"[:18]
    return base


def profile_create(*, user: User, handle: str | None = None) -> Profile:
    """Create the profile of a new user, with `handle` or one derived from the email."""
    if handle is not None:
        profile = Profile(user=user, handle=normalize_handle(handle))
        profile.full_clean()
        profile.save()
        return profile
    base = _handle_base(user.email)
    candidates = [base] + [f"{base}{secrets.randbelow(10**5):05d}" for _ in range(8)]
    for candidate in candidates:
        try:
            with transaction.atomic():
                return Profile.objects.create(user=user, handle=candidate)
        except IntegrityError:
            continue
    raise errors.ProfileError("Could not find a free handle; pick one in your profile.")


def profile_update(*, profile: Profile, **fields) -> Profile:
    """Change the editable fields of a profile; raises ValidationError and saves nothing if bad."""
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    if "handle" in fields:
        fields["handle"] = normalize_handle(fields["handle"])
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError as exc:
        # Two people racing for the same free handle: the constraint decides.
        raise ValidationError({"handle": "That handle is taken."}) from exc
    return profile


def follow_create(*, follower: User, followee: User) -> Follow:
    if follower.pk == followee.pk:
        raise errors.FollowError(errors.CANNOT_FOLLOW_SELF)
    try:
        with transaction.atomic():
            return Follow.objects.create(follower=follower, followee=followee)
    except IntegrityError as exc:
        raise errors.FollowError(
            errors.ALREADY_FOLLOWING.format(handle=followee.profile.handle)
        ) from exc


def follow_delete(*, follower: User, followee: User) -> None:
    deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
    if not deleted:
        raise errors.FollowError(errors.NOT_FOLLOWING.format(handle=followee.profile.handle))


def creator_exception_set(*, profile: Profile, granted: bool, by: User) -> Profile:
    """Staff grant or revoke the waiver of the follower minimum, recording who did it."""
    profile.creator_exception = granted
    profile.creator_exception_granted_by = by if granted else None
    profile.creator_exception_granted_at = timezone.now() if granted else None
    profile.save(
        update_fields=[
            "creator_exception",
            "creator_exception_granted_by",
            "creator_exception_granted_at",
            "updated_at",
        ]
    )
    return profile
