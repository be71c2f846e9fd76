"""Demo people for `seed_demo`: the documented logins, creators with followers, a few fans."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import transaction

from .models import Follow, Profile, User
from .services import profile_update

DEMO_PASSWORD = "giftcast-demo"
GENERATED_FOLLOWERS = 1_050


@dataclass(frozen=True)
class DemoPerson:
    email: str
    handle: str
    display_name: str
    country: str
    birth_date: dt.date
    bio: str = ""
    creator: bool = False
    staff: bool = False


PEOPLE = [
    DemoPerson("fan@example.com", "demofan", "Demo Fan", "US", dt.date(1999, 4, 12),
               "Here for the music streams."),
    DemoPerson("creator@example.com", "democreator", "Demo Creator", "US", dt.date(1994, 9, 3),
               "Live every evening: songs, chat and requests.", creator=True),
    DemoPerson("staff@example.com", "demostaff", "Giftcast Staff", "GB", dt.date(1988, 1, 20),
               staff=True),
    DemoPerson("luna@example.com", "luna.sings", "Luna Sings", "GB", dt.date(1997, 6, 30),
               "Acoustic covers from London.", creator=True),
    DemoPerson("kenji@example.com", "chef.kenji", "Chef Kenji", "CA", dt.date(1990, 11, 8),
               "Cooking live, questions welcome.", creator=True),
    DemoPerson("mia@example.com", "mia_watches", "Mia", "AU", dt.date(2001, 2, 14)),
    DemoPerson("noah@example.com", "noah.k", "Noah", "IN", dt.date(2000, 7, 22)),
]  # fmt: skip


def _ensure_person(person: DemoPerson) -> User:
    user, _ = User.objects.get_or_create(email=person.email)
    user.is_staff = user.is_superuser = person.staff
    if not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=person.email, defaults={"verified": True, "primary": True}
    )
    profile_update(
        profile=user.profile,
        handle=person.handle,
        display_name=person.display_name,
        country=person.country,
        birth_date=person.birth_date,
        bio=person.bio,
    )
    return user


def _ensure_followers(count: int) -> list[int]:
    emails = [f"follower{n:04d}@example.invalid" for n in range(1, count + 1)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create(
        [User(email=email, password=unusable) for email in emails if email not in existing]
    )
    users = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
    with_profile = set(
        Profile.objects.filter(user_id__in=users.values()).values_list("user_id", flat=True)
    )
    Profile.objects.bulk_create(
        [
            Profile(user_id=pk, handle=email.split("@")[0], display_name=f"Follower {email[8:12]}")
            for email, pk in users.items()
            if pk not in with_profile
        ]
    )
    return list(users.values())


def seed(context: dict) -> None:
    """seed_demo's accounts step: puts `people` (email -> User) into the shared context."""
    context["people"] = seed_people()


@transaction.atomic
def seed_people() -> dict[str, User]:
    people = {person.email: _ensure_person(person) for person in PEOPLE}
    follower_ids = _ensure_followers(GENERATED_FOLLOWERS)
    creators = [people[p.email] for p in PEOPLE if p.creator]
    Follow.objects.bulk_create(
        [Follow(follower_id=pk, followee=creator) for creator in creators for pk in follower_ids],
        ignore_conflicts=True,
    )
    fans = [people[p.email] for p in PEOPLE if not p.creator and not p.staff]
    Follow.objects.bulk_create(
        [Follow(follower=fan, followee=creator) for creator in creators for fan in fans],
        ignore_conflicts=True,
    )
    return people
