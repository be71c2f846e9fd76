"""Live rooms: streams, the gift catalogue, gifts sent and chat (DESIGN §4)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from accounts.validators import validate_avatar


def new_overlay_token() -> str:
    return secrets.token_urlsafe(24)


class StreamStatus(models.TextChoices):
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


class Stream(models.Model):
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="streams"
    )
    title = models.CharField(max_length=100)
    status = models.CharField(max_length=5, choices=StreamStatus.choices, default=StreamStatus.LIVE)
    hls_url = models.URLField(
        max_length=500, blank=True, help_text="Optional HLS playback URL (OBS users)."
    )
    overlay_token = models.CharField(max_length=64, unique=True, default=new_overlay_token)
    goal_coins = models.PositiveIntegerField(null=True, blank=True)
    cover = models.ImageField(
        upload_to="covers/",
        blank=True,
        validators=[validate_avatar],
        help_text="Optional picture shown in Live now and before the video starts.",
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    peak_viewers = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["creator"],
                condition=Q(status="live"),
                name="livestreams_one_live_stream_per_creator",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("livestreams:room", args=[self.pk])

    @property
    def is_live(self) -> bool:
        return self.status == StreamStatus.LIVE


class Gift(models.Model):
    """The catalogue: what a fan can send, for how many coins."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=40)
    coins = models.PositiveIntegerField()
    artwork = models.CharField(
        max_length=100, help_text="Static path of the SVG, e.g. gifts/rose.svg"
    )
    sort_order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "coins"]
        constraints = [
            models.CheckConstraint(condition=Q(coins__gt=0), name="livestreams_gift_coins_positive")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.coins:,} coins)"

    @property
    def is_big(self) -> bool:
        """Big gifts take the whole stage; small ones stack in the side rail."""
        return self.coins >= settings.GIFT_BIG_MIN_COINS


class SentGift(models.Model):
    """One send: `quantity` of a gift from a fan to the creator of a stream."""

    # `stream` and `gift` have no database foreign key, on purpose: its check takes a KEY
    # SHARE lock on the referenced row, so every gift to a room, and every send of the same
    # gift, would queue on one row (the hot rows DESIGN §2 forbids; measured: +49% gifts/s
    # without them). gift_post reads both rows in the same call, and a trigger refuses to
    # delete a stream or a gift that has sends (migration 0007, PostgreSQL; SQLite relies on
    # the ORM's PROTECT: a trigger there naming SentGift would break every later migration
    # that rebuilds the table).
    # Both indexed through the composite index and unique constraint below.
    stream = models.ForeignKey(
        Stream, on_delete=models.PROTECT, related_name="gifts", db_constraint=False, db_index=False
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sent_gifts",
        db_index=False,
    )  # fmt: skip
    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    quantity = models.PositiveIntegerField()
    coins = models.PositiveIntegerField()
    diamonds = models.PositiveIntegerField()
    key = models.CharField(max_length=64, help_text="The sender's idempotency key.")
    anonymous = models.BooleanField(default=False)
    transaction_id = models.BigIntegerField(help_text="The ledger transaction.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "key"], name="livestreams_sentgift_sender_key"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="livestreams_sentgift_quantity_positive"
            ),
        ]
        indexes = [models.Index(fields=["stream", "sender"])]

    def __str__(self) -> str:
        return f"{self.gift.name} × {self.quantity}"


class ChatMessage(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="chat")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["stream", "-id"])]

    def __str__(self) -> str:
        return self.text[:40]


class RoomBan(models.Model):
    """A viewer the creator (or staff) banned from a creator's rooms, or only muted."""

    class Kind(models.TextChoices):
        BAN = "ban", "Banned"
        MUTE = "mute", "Muted"

    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "user"], name="livestreams_roomban_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.user_id} in rooms of {self.creator_id}"


class StreamGifter(models.Model):
    """Running coin total per gifter in a stream (anonymous sends apart), kept in the gift's
    transaction: the stream's ranking and total read these rows instead of every gift, and
    each gift hands the sender's new total to the room's live board (livestreams.realtime).

    `coins` is in no index, so the per-gift update stays on its page (a HOT update) and
    writes no index entries; rankings sort a stream's rows, found by the unique constraint."""

    # No database foreign key, as SentGift.stream: one hot row per room otherwise. Indexed
    # through the unique constraint, which leads with it.
    stream = models.ForeignKey(
        Stream, on_delete=models.CASCADE, related_name="gifters", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    anonymous = models.BooleanField(default=False)
    coins = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "sender", "anonymous"], name="livestreams_gifter_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} in {self.stream_id}: {self.coins}"
