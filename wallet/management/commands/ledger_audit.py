from django.core.management.base import BaseCommand, CommandError

from wallet.ledger import ledger_audit


class Command(BaseCommand):
    help = "Recompute every balance from the ledger's entries; exit non-zero on any difference."

    def handle(self, *args, **options):
        report = ledger_audit()
        self.stdout.write(
            f"Checked {report.transactions:,} transactions, {report.entries:,} entries, "
            f"{report.accounts:,} accounts."
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS("The books balance."))
            return
        for problem in report.problems:
            self.stderr.write(problem)
        raise CommandError(f"{len(report.problems)} difference(s) found.")
