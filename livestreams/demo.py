"""seed_demo's live-rooms step: the demo creator is live, with a little chat already."""

from __future__ import annotations

from .models import ChatMessage, Stream, StreamStatus


def seed(context: dict) -> None:
    people = context["people"]
    creator = people["creator@example.com"]
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
