from __future__ import annotations

import datetime as dt

from livestreams.models import Stream
from tests.accounts.factories import UserFactory, add_followers
from tests.wallet.factories import fund


def creator(**kwargs):
    user = UserFactory(profile__birth_date=dt.date(1990, 1, 1), **kwargs)
    add_followers(user, 1000)
    return user


def live_stream(owner=None, **kwargs) -> Stream:
    return Stream.objects.create(
        creator=owner or creator(), title=kwargs.pop("title", "Evening songs"), **kwargs
    )


def fan_with(coins: int, **kwargs):
    user = UserFactory(**kwargs)
    if coins:
        fund(user, coins)
    return user
