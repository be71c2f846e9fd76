"""Seed the coin packages and prices of DESIGN §2 (amounts in ISO 4217 minor units)."""

from django.db import migrations

USD = {65: 74, 100: 129, 350: 370, 500: 649, 700: 740, 1000: 1299, 5000: 6499}
# Regional prices for the 70 / 350 / 700 coin packages. KRW has no minor unit.
REGIONAL = {
    "GBP": (75, 375, 745),
    "INR": (6000, 30000, 60000),
    "AUD": (129, 635, 1275),
    "CAD": (99, 489, 975),
    "PHP": (5000, 25000, 50000),
    "MXN": (1459, 7295, 14589),
    "BRL": (365, 1805, 3605),
    "KRW": (1080, 5400, 10800),
}


def seed(apps, schema_editor):
    CoinPackage = apps.get_model("wallet", "CoinPackage")
    Price = apps.get_model("wallet", "Price")
    coins_list = sorted(set(USD) | {70})
    packages = {}
    for order, coins in enumerate(coins_list):
        packages[coins], _ = CoinPackage.objects.get_or_create(
            coins=coins, bonus_coins=0, defaults={"sort_order": order}
        )
    for coins, amount in USD.items():
        Price.objects.get_or_create(package=packages[coins], currency="USD", defaults={"amount_minor": amount})
    for currency, amounts in REGIONAL.items():
        for coins, amount in zip((70, 350, 700), amounts, strict=True):
            Price.objects.get_or_create(
                package=packages[coins], currency=currency, defaults={"amount_minor": amount}
            )


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
