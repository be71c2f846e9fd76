"""seed_demo's live-rooms step: the demo creator's past streams, with gifts sent through the
real gift service (some old enough to have cleared for payout), and the stream live now,
with a little chat already."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from .models import ChatMessage, SentGift, Stream, StreamStatus
from .services import gift_send, stream_end, stream_start

# (days ago, title, minutes, peak viewers, [(fan, gift, quantity per send, sends)])
PAST_STREAMS = [
    (20, "Sunday requests", 95, 342, [
        ("mia@example.com", "galaxy", 1, 2), ("noah@example.com", "money-gun", 1, 2),
        ("noah@example.com", "rose", 5, 3),
    ]),
    (12, "Rainy day covers", 70, 218, [
        ("mia@example.com", "galaxy", 1, 1), ("noah@example.com", "corgi", 1, 3),
        ("mia@example.com", "finger-heart", 5, 1),
    ]),
    (3, "Open mic night", 120, 506, [
        ("noah@example.com", "galaxy", 1, 1), ("mia@example.com", "sunglasses", 1, 2),
        ("mia@example.com", "rose", 1, 10),
    ]),
]  # fmt: skip


def seed(context: dict) -> None:
    people = context["people"]
    creator = people["creator@example.com"]
    if not Stream.objects.filter(creator=creator, status=StreamStatus.ENDED).exists():
        _past_streams(people, creator)
    stream = Stream.objects.filter(creator=creator, status=StreamStatus.LIVE).first()
    if stream is None:
        stream = Stream.objects.create(
            creator=creator, title="Evening acoustic session", goal_coins=50_000
        )
    if not ChatMessage.objects.filter(stream=stream).exists():
        for email, text in [
            ("mia@example.com", "Hi from Sydney! 👋"),
            ("noah@example.com", "Can you play the one from last week?"),
            ("fan@example.com", "This is so good 🔥"),
        ]:
            ChatMessage.objects.create(stream=stream, user=people[email], text=text)
    context["stream"] = stream


def _past_streams(people: dict, creator) -> None:
    """Each past stream goes live, takes its gifts through gift_send and ends; then it and
    its gifts are dated back to when the history says they happened."""
    live = Stream.objects.filter(creator=creator, status=StreamStatus.LIVE).first()
    if live is not None:
        stream_end(stream=live, by=creator)
    now = timezone.now()
    for days_ago, title, minutes, peak, gifts in PAST_STREAMS:
        stream = stream_start(creator=creator, title=title)
        for email, slug, quantity, sends in gifts:
            for _ in range(sends):
                gift_send(
                    sender=people[email], stream_id=stream.pk, gift_slug=slug,
                    quantity=quantity, key=str(uuid.uuid4()),
                )  # fmt: skip
        stream_end(stream=stream, by=creator)
        started = (now - dt.timedelta(days=days_ago)).replace(hour=19, minute=0, second=0)
        Stream.objects.filter(pk=stream.pk).update(
            started_at=started, ended_at=started + dt.timedelta(minutes=minutes), peak_viewers=peak
        )
        for n, pk in enumerate(SentGift.objects.filter(stream=stream).order_by("pk").values_list(
            "pk", flat=True
        )):  # fmt: skip
            SentGift.objects.filter(pk=pk).update(created_at=started + dt.timedelta(minutes=2 + n))
