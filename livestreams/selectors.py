"""Reads of live rooms: streams, the catalogue, rankings, recent chat, bans."""

from __future__ import annotations

from fractions import Fraction

from django.conf import settings
from django.db.models import QuerySet, Sum

from .models import ChatMessage, Gift, RoomBan, SentGift, Stream, StreamGifter, StreamStatus
from .realtime import Gifter, viewers_of
from .realtime.outage import REDIS_AWAY, away


def gift_catalogue() -> QuerySet[Gift]:
    return Gift.objects.filter(active=True).order_by("sort_order", "coins")


# The quantity steps the gift tray offers, below GIFT_MAX_QUANTITY (which it always offers).
QUANTITY_STEPS = (1, 5, 10, 50, 100, 500, 1000)


def gift_quantities() -> list[int]:
    """The quantities the tray offers: the steps under GIFT_MAX_QUANTITY, then the maximum
    itself, so the largest choice is always one the room accepts (99 by default: 1, 5, 10,
    50, 99)."""
    high = settings.GIFT_MAX_QUANTITY
    return [n for n in QUANTITY_STEPS if n < high] + [high]


def creator_share_terms() -> dict[str, int]:
    """CREATOR_SHARE in whole numbers, for fans: 0.5 is 1 diamond for every 2 coins. It holds
    over a fan's gifts to a stream together, not each gift on its own (DESIGN §2)."""
    share = Fraction(settings.CREATOR_SHARE)
    return {"diamonds": share.numerator, "coins": share.denominator}


def live_streams() -> QuerySet[Stream]:
    return Stream.objects.filter(status=StreamStatus.LIVE).select_related("creator__profile")


def live_stream_of(*, creator) -> Stream | None:
    return Stream.objects.filter(creator=creator, status=StreamStatus.LIVE).first()


def may_manage(*, stream, user) -> bool:
    """The one rule for who may end a stream, reset its overlay and moderate its room: its
    creator, and staff."""
    return bool(user and user.is_authenticated and (user.pk == stream.creator_id or user.is_staff))


def ban_of(*, creator_id: int, user_id: int) -> RoomBan | None:
    return RoomBan.objects.filter(creator_id=creator_id, user_id=user_id).first()


def sender_label(profile, *, anonymous: bool) -> dict:
    """How a gifter appears to the room as a gift's sender."""
    if anonymous:
        return {"handle": None, "name": "Anonymous", "anonymous": True}
    return {"handle": profile.handle, "name": profile.name, "anonymous": False}


def ranking_label(profile, *, anonymous: bool) -> dict:
    """How a gifter shows in rankings: as a sender, and "Anonymous" if they opted out."""
    return sender_label(profile, anonymous=anonymous or profile.hide_from_rankings)


def ranking(*, stream: Stream | int, limit: int = 10) -> tuple[list[dict], int]:
    """The stream's (or stream id's) top gifters by coins and its coin total, from the
    running totals. Anonymous sends, and fans who opted out of rankings, show as "Anonymous".
    """
    gifters = StreamGifter.objects.filter(stream=stream)
    total = gifters.aggregate(total=Sum("coins"))["total"] or 0
    rows = gifters.select_related("sender__profile").order_by("-coins", "pk")[:limit]
    entries = [
        {**ranking_label(row.sender.profile, anonymous=row.anonymous), "coins": row.coins}
        for row in rows
    ]
    return entries, total


def board_gifters(*, stream_id: int) -> list[Gifter]:
    """Every gifter of the stream, as lines of the room's live board (realtime)."""
    rows = StreamGifter.objects.filter(stream_id=stream_id).select_related("sender__profile")
    return [
        Gifter(row.pk, row.coins, ranking_label(row.sender.profile, anonymous=row.anonymous))
        for row in rows
    ]


def top_gifters(*, stream: Stream, limit: int = 10) -> list[dict]:
    return ranking(stream=stream, limit=limit)[0]


def gifter_level(coins: int) -> int:
    """Level 1 from the first 10 coins gifted to a creator, one more each time the total
    doubles (10, 20, 40, …), up to 50."""
    if coins < 10:
        return 0
    return min(50, (coins // 10).bit_length())


def gifter_levels(*, creator_id: int, user_ids: list[int]) -> dict[int, int]:
    """Each user's gifter level in this creator's rooms, from lifetime coins, in one query.

    Only gifts sent under the fan's name count: the badge is public, so an anonymous gift
    that raised it would name its sender to anyone watching the badge."""
    rows = (
        SentGift.objects.filter(
            stream__creator_id=creator_id, sender_id__in=set(user_ids), anonymous=False
        )
        .values("sender_id")
        .annotate(coins=Sum("coins"))
    )
    return {row["sender_id"]: gifter_level(row["coins"]) for row in rows}


def recent_chat(*, stream: Stream, limit: int = 30) -> list[dict]:
    messages = list(
        ChatMessage.objects.filter(stream=stream)
        .select_related("user__profile")
        .order_by("-id")[:limit]
    )
    levels = gifter_levels(creator_id=stream.creator_id, user_ids=[m.user_id for m in messages])
    return [chat_event(m, level=levels.get(m.user_id, 0)) for m in reversed(messages)]


def chat_event(message: ChatMessage, *, level: int | None = None) -> dict:
    profile = message.user.profile
    if level is None:
        levels = gifter_levels(creator_id=message.stream.creator_id, user_ids=[message.user_id])
        level = levels.get(message.user_id, 0)
    return {
        "type": "chat",
        "id": message.pk,
        "text": message.text,
        "user": {"handle": profile.handle, "name": profile.name, "level": level},
        "at": message.created_at.isoformat(),
    }


def discovery(*, viewer) -> list[tuple[Stream, int | None, bool]]:
    """Live streams with their viewer counts, most watched first; for a signed-in fan the
    creators they follow come first. A count is None while the rooms' Redis can't be reached:
    unknown, which the page says, rather than 0."""
    from accounts.models import Follow

    streams = list(live_streams())
    try:
        counts = viewers_of([s.pk for s in streams])
    except REDIS_AWAY as exc:
        away("viewer counts shown as unknown", exc)
        counts = dict.fromkeys(s.pk for s in streams)
    followed: set[int] = set()
    if viewer.is_authenticated:
        followed = set(
            Follow.objects.filter(
                follower=viewer, followee_id__in=[s.creator_id for s in streams]
            ).values_list("followee_id", flat=True)
        )
    rows = [(s, counts[s.pk], s.creator_id in followed) for s in streams]
    rows.sort(key=lambda row: (not row[2], -(row[1] or 0), -row[0].started_at.timestamp()))
    return rows


def stream_summary(*, stream: Stream, income: bool) -> dict:
    """What the ended stream's page shows: its duration, gifts and top gifters to anyone;
    with `income` (the creator and staff: may_manage) also its peak viewers and what it
    earned, the coins received and diamonds earned, which are nobody else's business."""
    totals = SentGift.objects.filter(stream=stream).aggregate(
        coins=Sum("coins"), diamonds=Sum("diamonds"), gifts=Sum("quantity")
    )
    end = stream.ended_at or stream.started_at
    summary = {
        "duration": end - stream.started_at,
        "gifts": totals["gifts"] or 0,
        "top": top_gifters(stream=stream, limit=5),
        "income": None,
    }
    if income:
        summary["income"] = {
            "coins": totals["coins"] or 0,
            "diamonds": totals["diamonds"] or 0,
            "peak_viewers": stream.peak_viewers,
        }
    return summary
