from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password

from accounts.models import Follow, Profile, User
from accounts.services import profile_update


class UserFactory(factory.django.DjangoModelFactory):
    """A signed-up user with a verified email; `profile__<field>=…` sets profile fields."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.LazyFunction(lambda: make_password("correct-horse-battery-staple"))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        password = kwargs.pop("password")
        if not password.startswith(("md5$", "pbkdf2", "!")):
            password = make_password(password)
        return super()._create(model_class, *args, password=password, **kwargs)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if create:
            self.profile.refresh_from_db()
            handle = kwargs.pop("handle", None) or f"user{self.pk}"
            profile_update(profile=self.profile, handle=handle, **kwargs)


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow

    follower = factory.SubFactory(UserFactory)
    followee = factory.SubFactory(UserFactory)


def add_followers(user: User, count: int) -> None:
    """Give `user` exactly `count` more followers, quickly (bulk rows, no profiles needed)."""
    start = User.objects.count()
    unusable = make_password(None)
    followers = User.objects.bulk_create(
        [
            User(email=f"bulk{start + n}-{user.pk}@example.invalid", password=unusable)
            for n in range(count)
        ]
    )
    Follow.objects.bulk_create([Follow(follower=f, followee=user) for f in followers])


__all__ = ["UserFactory", "FollowFactory", "Profile", "add_followers"]
