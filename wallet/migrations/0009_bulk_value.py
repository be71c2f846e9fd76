"""Bulk is never worse value (DESIGN §2): the catalogue is brought to the rule.

- The app-store packages seeded beside the web ones (100, 500 and 1,000 coins at $1.29,
  $6.49, $12.99: the store's cut included) made bigger cost more per coin than 65, 350 and
  700; they are retired (inactive, so past recharges keep their package).
- AUD 700 coins was 12.75, dearer per coin than 350 for 6.35; it is 12.70.
- Bigger packages, in every currency that has a 700-coin price p: 1,400 coins for 2p,
  3,500 for 5p, 5,000 for ⌊5,000 p / 700⌋ (replacing the app-store $64.99) and
  7,000 + 350 bonus for 10p — at or below the 700-coin rate, and never dearer per coin
  than a smaller one.
Prices staff have set differently are left as they are; the test suite and the admin
check every catalogue against the rule.
"""

from django.db import migrations

RETIRED = (100, 500, 1000)
# (coins, bonus, price as a function of the 700-coin price)
LADDER = (
    (1400, 0, lambda p: 2 * p),
    (3500, 0, lambda p: 5 * p),
    (5000, 0, lambda p: 5000 * p // 700),
    (7000, 350, lambda p: 10 * p),
)
APP_STORE_5000_USD = 6499


def bulk_value(apps, schema_editor):
    CoinPackage = apps.get_model("wallet", "CoinPackage")
    Price = apps.get_model("wallet", "Price")
    CoinPackage.objects.filter(coins__in=RETIRED, bonus_coins=0).update(active=False)
    Price.objects.filter(
        package__coins=700, package__bonus_coins=0, currency="AUD", amount_minor=1275
    ).update(amount_minor=1270)
    per_700 = dict(
        Price.objects.filter(package__coins=700, package__bonus_coins=0).values_list(
            "currency", "amount_minor"
        )
    )
    for order, (coins, bonus, price) in enumerate(LADDER, start=20):
        package, _ = CoinPackage.objects.get_or_create(
            coins=coins, bonus_coins=bonus, defaults={"sort_order": order}
        )
        CoinPackage.objects.filter(pk=package.pk).update(active=True, sort_order=order)
        for currency, p in per_700.items():
            amount = price(p)
            row = Price.objects.filter(package=package, currency=currency).first()
            if row is None:
                Price.objects.create(package=package, currency=currency, amount_minor=amount)
            elif coins == 5000 and currency == "USD" and row.amount_minor == APP_STORE_5000_USD:
                Price.objects.filter(pk=row.pk).update(amount_minor=amount)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0008_chargeback_losses")]

    operations = [migrations.RunPython(bulk_value, migrations.RunPython.noop)]
