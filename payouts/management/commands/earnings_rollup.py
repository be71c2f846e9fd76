from django.core.management.base import BaseCommand, CommandError

from payouts.selectors import tally_problems
from payouts.services import earnings_rollup


class Command(BaseCommand):
    help = (
        "Fold the gifts and reversals since the last run into the creator dashboard's "
        "tallies (safe to run any time); --check recomputes every tally afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true",
            help="recompute every tally from the gift records and fail on any difference",
        )  # fmt: skip

    def handle(self, *args, check: bool = False, **options):
        folded = earnings_rollup()
        self.stdout.write(f"Rolled up {folded:,} fan-stream-day sum(s).")
        if check:
            problems = tally_problems()
            for problem in problems:
                self.stderr.write(problem)
            if problems:
                raise CommandError(f"{len(problems)} tally difference(s)")
            self.stdout.write("Every tally matches the gift records.")
