from django.core.management.base import BaseCommand

from wallet.ledger import ledger_rollup


class Command(BaseCommand):
    help = "Fold new entries of receive-only accounts into their settled balances (safe to run any time)."

    def handle(self, *args, **options):
        touched = ledger_rollup()
        self.stdout.write(f"Rolled up {touched:,} account(s).")
