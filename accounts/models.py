from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from .countries import currency_for_country, validate_country
from .validators import HANDLE_HELP, validate_avatar, validate_handle


class UserManager(DjangoUserManager):
    """Users log in with their email; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser needs is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


def avatar_upload_to(instance: Profile, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "img"
    return f"avatars/{instance.user_id}/{instance.handle}.{extension}"


def public_name(*, display_name: str, handle: str) -> str:
    """How a user is named to others: their display name, else their @handle."""
    return display_name or f"@{handle}"


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    handle = models.CharField(
        max_length=24, unique=True, validators=[validate_handle], help_text=HANDLE_HELP
    )
    display_name = models.CharField(max_length=50, blank=True)
    avatar = models.ImageField(upload_to=avatar_upload_to, blank=True, validators=[validate_avatar])
    bio = models.CharField(max_length=300, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_country],
        help_text="ISO 3166 country code; sets the currency you pay in.",
    )
    gift_confirm_above_coins = models.PositiveIntegerField(
        "Ask before gifts above (coins)",
        default=1000,
        help_text="The gift tray asks you to confirm any gift costing more than this.",
    )
    hide_from_rankings = models.BooleanField(
        "Hide me from rankings",
        default=False,
        help_text="Show you as “Anonymous” in top-gifter rankings.",
    )
    creator_exception = models.BooleanField(
        default=False,
        help_text="Staff-granted: may go live and be paid without meeting the follower minimum.",
    )
    creator_exception_granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    creator_exception_granted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(handle=Lower("handle")), name="accounts_profile_handle_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return f"@{self.handle}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile", kwargs={"handle": self.handle})

    @property
    def name(self) -> str:
        return public_name(display_name=self.display_name, handle=self.handle)

    @property
    def initials(self) -> str:
        source = self.display_name or self.handle
        return "".join(part[0] for part in source.split()[:2]).upper() or "?"

    @property
    def preferred_currency(self) -> str:
        return currency_for_country(self.country)


class Follow(models.Model):
    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_set")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_set")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="accounts_follow_unique"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("followee")),
                name="accounts_follow_not_self",
            ),
        ]
        indexes = [models.Index(fields=["followee", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followee_id}"
