"""Seed the gift catalogue of DESIGN §4; artwork lives in static/gifts/<slug>.svg."""

from django.db import migrations

GIFTS = [
    ("Rose", 1), ("Finger Heart", 5), ("Perfume", 20), ("Love Bang", 25), ("Doughnut", 30),
    ("Paper Crane", 99), ("Sunglasses", 199), ("Corgi", 299), ("Money Gun", 500),
    ("Galaxy", 1000), ("Diamond Ring", 1500), ("Yacht", 7000), ("Interstellar", 10000),
    ("Lion", 29999), ("Universe", 44999),
]  # fmt: skip


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def seed(apps, schema_editor):
    Gift = apps.get_model("livestreams", "Gift")
    for order, (name, coins) in enumerate(GIFTS):
        Gift.objects.get_or_create(
            slug=slug(name),
            defaults={"name": name, "coins": coins, "sort_order": order, "artwork": f"gifts/{slug(name)}.svg"},
        )


class Migration(migrations.Migration):
    dependencies = [("livestreams", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
