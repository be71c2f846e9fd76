"""Fill the running gifter totals from the gifts already sent."""

from django.db import migrations
from django.db.models import Sum


def backfill(apps, schema_editor):
    SentGift = apps.get_model("livestreams", "SentGift")
    StreamGifter = apps.get_model("livestreams", "StreamGifter")
    rows = SentGift.objects.values("stream_id", "sender_id", "anonymous").annotate(coins=Sum("coins"))
    StreamGifter.objects.bulk_create(
        [StreamGifter(stream_id=r["stream_id"], sender_id=r["sender_id"], anonymous=r["anonymous"],
                      coins=r["coins"]) for r in rows],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("livestreams", "0004_stream_gifters")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
