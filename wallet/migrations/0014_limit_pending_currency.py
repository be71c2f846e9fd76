"""A pending limit keeps the currency it was set in, which may differ from the one in force
(a fan who moved country raised it in their new currency). Pending changes set before this
were set in the limit's own currency."""

from django.db import migrations, models
from django.db.models import F, Q


def pending_in_own_currency(apps, schema_editor):
    SpendingLimit = apps.get_model("wallet", "SpendingLimit")
    SpendingLimit.objects.filter(pending_from__isnull=False).update(pending_currency=F("currency"))


class Migration(migrations.Migration):
    dependencies = [("wallet", "0013_webhook_events_held")]

    operations = [
        migrations.AddField(
            model_name="spendinglimit",
            name="pending_currency",
            field=models.CharField(blank=True, max_length=3),
        ),
        migrations.RunPython(pending_in_own_currency, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="spendinglimit",
            constraint=models.CheckConstraint(
                condition=Q(pending_from__isnull=True) | ~Q(pending_currency=""),
                name="wallet_limit_pending_has_currency",
            ),
        ),
    ]
