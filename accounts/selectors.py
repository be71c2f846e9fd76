"""Reads of the accounts app: profiles, follows and creator eligibility."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Follow, Profile, User


def profile_list() -> QuerySet[Profile]:
    return Profile.objects.select_related("user").annotate(
        follower_count=Count("user__follower_set", distinct=True),
        following_count=Count("user__following_set", distinct=True),
    )


def profile_get_by_handle(*, handle: str) -> Profile:
    """The public profile for `handle` with follower/following counts, or 404."""
    return get_object_or_404(profile_list(), handle=handle.lower(), user__is_active=True)


def is_following(*, follower: User, followee: User) -> bool:
    if not follower.is_authenticated:
        return False
    return Follow.objects.filter(follower=follower, followee=followee).exists()


def follower_count(*, user: User) -> int:
    return Follow.objects.filter(followee=user).count()


def following_count(*, user: User) -> int:
    return Follow.objects.filter(follower=user).count()


def date_add_years(day: dt.date, years: int) -> dt.date:
    """`day` moved by whole years; 29 February falls on 1 March in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def age_on(*, birth_date: dt.date, today: dt.date) -> int:
    years = today.year - birth_date.year
    if today < date_add_years(birth_date, years):
        years -= 1
    return years


@dataclass(frozen=True)
class Requirement:
    label: str
    met: bool
    detail: str


@dataclass(frozen=True)
class Eligibility:
    """Whether a user may go live and be paid, with each requirement spelled out."""

    age: int | None
    adult_from: dt.date | None
    followers: int
    followers_needed: int
    exception: bool
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def is_adult(self) -> bool:
        return self.age is not None and self.age >= settings.CREATOR_MIN_AGE

    @property
    def has_followers(self) -> bool:
        return self.followers >= self.followers_needed

    @property
    def eligible(self) -> bool:
        # The staff exception waives the follower minimum, never the age rule.
        return self.is_adult and (self.has_followers or self.exception)

    @property
    def missing(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.met]


def creator_eligibility(*, user: User, today: dt.date | None = None) -> Eligibility:
    today = today or timezone.localdate()
    profile: Profile = user.profile
    min_age = settings.CREATOR_MIN_AGE
    needed = settings.CREATOR_MIN_FOLLOWERS
    followers = follower_count(user=user)

    if profile.birth_date is None:
        age = adult_from = None
        age_detail = "Add your birth date to your profile."
    else:
        age = age_on(birth_date=profile.birth_date, today=today)
        adult_from = date_add_years(profile.birth_date, min_age)
        age_detail = (
            f"You are {age}."
            if age >= min_age
            else f"You can go live from {adult_from:%-d %B %Y}, when you turn {min_age}."
        )
    age_met = age is not None and age >= min_age

    if profile.creator_exception:
        follower_detail = "Staff granted you an exception to the follower minimum."
    elif followers >= needed:
        follower_detail = f"You have {followers:,} followers."
    else:
        follower_detail = f"You have {followers:,}; {needed - followers:,} more to go."
    requirements = [
        Requirement(label=f"You are {min_age} or older", met=age_met, detail=age_detail),
        Requirement(
            label=f"At least {needed:,} followers",
            met=followers >= needed or profile.creator_exception,
            detail=follower_detail,
        ),
    ]
    return Eligibility(
        age=age,
        adult_from=adult_from,
        followers=followers,
        followers_needed=needed,
        exception=profile.creator_exception,
        requirements=requirements,
    )


def may_go_live(*, user: User, today: dt.date | None = None) -> bool:
    """creator_eligibility(user).eligible, asked by every page's header: it counts the
    followers only when that can change the answer (an adult without the staff exception),
    so a fan's pages cost no query for it. tests/accounts/test_go_live_offer.py holds the
    two to the same answer."""
    profile: Profile = user.profile
    if profile.birth_date is None:
        return False
    today = today or timezone.localdate()
    if age_on(birth_date=profile.birth_date, today=today) < settings.CREATOR_MIN_AGE:
        return False
    if profile.creator_exception:
        return True
    return creator_eligibility(user=user, today=today).eligible


_VERIFIED = "_giftcast_email_verified"
UNVERIFIED_RECHECK_SECONDS = 10


def email_verified(*, user) -> bool:
    """Whether `user` is signed in with a verified email address (allauth's EmailAddress),
    as sending gifts and chatting need. The answer is remembered on the user object, so a
    room's connection, which keeps one, asks the database once: a yes for good, a no for
    UNVERIFIED_RECHECK_SECONDS (they may verify meanwhile; a flood of frames from an
    unverified account costs no query each)."""
    if user is None or not user.is_authenticated:
        return False
    known = user.__dict__.get(_VERIFIED)
    if known is True or (known is not None and time.monotonic() < known):
        return known is True
    from allauth.account.models import EmailAddress

    verified = EmailAddress.objects.filter(user=user, verified=True).exists()
    user.__dict__[_VERIFIED] = True if verified else time.monotonic() + UNVERIFIED_RECHECK_SECONDS
    return verified


def email_verified_known(*, user) -> bool:
    """Whether email_verified(user) would answer without the database."""
    if user is None:
        return False
    known = user.__dict__.get(_VERIFIED)
    return known is True or (known is not None and time.monotonic() < known)
