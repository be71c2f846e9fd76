"""Creator eligibility: 18+ by birth date (exact on the day) and the follower minimum."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.selectors import age_on, creator_eligibility, date_add_years
from accounts.services import creator_exception_set
from tests.accounts.factories import UserFactory, add_followers

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 24)


def _creator(*, birth_date: dt.date | None, followers: int):
    user = UserFactory(profile__birth_date=birth_date)
    add_followers(user, followers)
    return user


def test_seventeen_years_364_days_is_not_adult():
    birth = dt.date(2008, 11, 25)  # turns 18 tomorrow
    user = _creator(birth_date=birth, followers=1000)
    result = creator_eligibility(user=user, today=TODAY)
    assert result.age == 17
    assert not result.is_adult
    assert not result.eligible
    assert [r.label for r in result.missing] == ["You are 18 or older"]
    assert "25 November 2026" in result.requirements[0].detail


def test_eighteenth_birthday_is_adult():
    user = _creator(birth_date=dt.date(2008, 11, 24), followers=1000)
    result = creator_eligibility(user=user, today=TODAY)
    assert result.age == 18
    assert result.eligible
    assert result.missing == []


def test_999_followers_is_not_enough():
    user = _creator(birth_date=dt.date(1990, 1, 1), followers=999)
    result = creator_eligibility(user=user, today=TODAY)
    assert result.followers == 999
    assert not result.eligible
    assert "1 more to go" in result.missing[0].detail


def test_1000_followers_is_enough():
    user = _creator(birth_date=dt.date(1990, 1, 1), followers=1000)
    assert creator_eligibility(user=user, today=TODAY).eligible


def test_missing_birth_date_is_not_eligible():
    user = _creator(birth_date=None, followers=5000)
    result = creator_eligibility(user=user, today=TODAY)
    assert result.age is None
    assert not result.eligible
    assert "birth date" in result.missing[0].detail


def test_staff_exception_waives_followers_but_not_age(django_user_model):
    staff = UserFactory(is_staff=True)
    adult = _creator(birth_date=dt.date(1990, 1, 1), followers=3)
    minor = _creator(birth_date=dt.date(2010, 1, 1), followers=3)
    for user in (adult, minor):
        creator_exception_set(profile=user.profile, granted=True, by=staff)
    assert creator_eligibility(user=adult, today=TODAY).eligible
    assert not creator_eligibility(user=minor, today=TODAY).eligible
    adult.profile.refresh_from_db()
    assert adult.profile.creator_exception_granted_by == staff


def test_revoking_exception_restores_follower_rule():
    staff = UserFactory(is_staff=True)
    user = _creator(birth_date=dt.date(1990, 1, 1), followers=3)
    creator_exception_set(profile=user.profile, granted=True, by=staff)
    creator_exception_set(profile=user.profile, granted=False, by=staff)
    user.profile.refresh_from_db()
    assert not creator_eligibility(user=user, today=TODAY).eligible
    assert user.profile.creator_exception_granted_by is None


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),  # leap-day births turn 18 on 1 March
        (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
        (dt.date(2004, 2, 29), dt.date(2024, 2, 29), 20),
        (dt.date(2000, 12, 31), dt.date(2018, 12, 30), 17),
        (dt.date(2000, 12, 31), dt.date(2018, 12, 31), 18),
    ],
)
def test_age_on_boundaries(birth, today, age):
    assert age_on(birth_date=birth, today=today) == age


def test_date_add_years_moves_leap_day_to_march_first():
    assert date_add_years(dt.date(2008, 2, 29), 18) == dt.date(2026, 3, 1)
    assert date_add_years(dt.date(2008, 2, 29), 16) == dt.date(2024, 2, 29)


def test_become_creator_page_shows_checklist(client):
    user = _creator(birth_date=dt.date(1990, 1, 1), followers=999)
    client.force_login(user)
    response = client.get("/become-a-creator/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "At least 1,000 followers" in body
    assert "1 more to go" in body
    assert "— met" in body and "— missing" in body


def test_become_creator_page_needs_login(client):
    response = client.get("/become-a-creator/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
