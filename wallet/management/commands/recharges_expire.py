from django.conf import settings
from django.core.management.base import BaseCommand

from wallet.services import recharges_expire


class Command(BaseCommand):
    help = (
        "End `expired` every checkout nobody finished within RECHARGE_CHECKOUT_HOURS "
        "(Stripe's are asked first). Safe to run any time; run it from the scheduler."
    )

    def handle(self, *args, **options):
        closed = recharges_expire()
        self.stdout.write(
            f"Expired {closed:,} checkout(s) older than {settings.RECHARGE_CHECKOUT_HOURS} hours."
        )
