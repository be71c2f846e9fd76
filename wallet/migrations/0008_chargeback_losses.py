"""A system account for the platform's chargeback losses (id -7, CHARGEBACK_LOSSES): the
diamonds creators keep from coins whose payment was refunded or disputed after the gifts
cleared. Created here; made again after any flush by system_accounts_ensure."""

import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models

LOSSES = -7  # frozen copy of SYSTEM_ACCOUNT_IDS[CHARGEBACK_LOSSES]


def losses_account_create(apps, schema_editor):
    Account = apps.get_model("wallet", "Account")
    Account.objects.get_or_create(
        pk=LOSSES, defaults={"unit": "DIAMOND", "purpose": "chargeback_losses"}
    )


def losses_account_drop(apps, schema_editor):
    """Going back is possible only while nothing was booked on the account."""
    Account = apps.get_model("wallet", "Account")
    Entry = apps.get_model("wallet", "Entry")
    if Entry.objects.filter(account_id=LOSSES).exists():
        raise RuntimeError("chargeback losses are booked on account -7: the ledger keeps them")
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        if postgres:  # accounts are undeletable (0004's trigger), but for this one, unused
            cursor.execute("ALTER TABLE wallet_account DISABLE TRIGGER wallet_account_keep")
        Account.objects.filter(pk=LOSSES).delete()
        if postgres:
            cursor.execute("ALTER TABLE wallet_account ENABLE TRIGGER wallet_account_keep")


class Migration(migrations.Migration):

    dependencies = [
        ('wallet', '0007_alter_transaction_kind'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='account',
            name='wallet_account_system_iff_ownerless',
        ),
        migrations.AlterField(
            model_name='account',
            name='purpose',
            field=models.CharField(choices=[('wallet', 'Coin wallet'), ('clawback', 'Clawback debt'), ('earnings', 'Diamond earnings'), ('payout_hold', 'Diamonds held for a payout'), ('coins_issued', 'Coins issued on recharge'), ('coins_spent', 'Coins spent on gifts'), ('coin_adjustments', 'Staff coin adjustments'), ('diamonds_issued', 'Diamonds issued for gifts'), ('diamonds_redeemed', 'Diamonds redeemed in payouts'), ('diamond_adjustments', 'Staff diamond adjustments'), ('chargeback_losses', 'Diamonds kept after refunds and disputes')], max_length=24),
        ),
        migrations.AlterField(
            model_name='transaction',
            name='kind',
            field=models.CharField(choices=[('recharge', 'Recharge'), ('gift', 'Gift'), ('refund', 'Refund clawback'), ('dispute', 'Dispute clawback'), ('adjustment', 'Staff adjustment'), ('payout_request', 'Payout request'), ('payout_rejection', 'Payout rejection'), ('payout_paid', 'Payout paid'), ('gift_reversal', 'Gift reversed (refund or dispute)'), ('chargeback_loss', 'Diamonds kept after a refund or dispute'), ('transfer', 'Transfer')], max_length=20),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=django.db.models.lookups.Exact(django.db.models.lookups.IsNull(models.F('owner'), True), django.db.models.lookups.In(models.F('purpose'), ['chargeback_losses', 'coin_adjustments', 'coins_issued', 'coins_spent', 'diamond_adjustments', 'diamonds_issued', 'diamonds_redeemed'])), name='wallet_account_system_iff_ownerless'),
        ),
        migrations.RunPython(losses_account_create, losses_account_drop),
    ]
