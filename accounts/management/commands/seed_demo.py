from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_PASSWORD, PEOPLE
from accounts.selectors import creator_eligibility

# Each app may have a `demo.seed(context)`; they run in dependency order and share `context`.
DEMO_APPS = ["accounts", "wallet", "livestreams", "payouts"]


class Command(BaseCommand):
    help = "Create or refresh the demo data (idempotent). Refuses to run under production settings."

    def handle(self, *args, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "seed_demo writes accounts with a published password; it refuses to run under "
                "these settings (DEMO_DATA_ALLOWED is off, as in production)."
            )
        context: dict = {"stdout": self.stdout}
        for label in DEMO_APPS:
            if apps.is_installed(label) and find_spec(f"{label}.demo"):
                import_module(f"{label}.demo").seed(context)
        people = context["people"]
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for person in PEOPLE:
            if person.email not in {"fan@example.com", "creator@example.com", "staff@example.com"}:
                continue
            user = people[person.email]
            if person.staff:
                role = "staff (admin at /admin/)"
            elif person.creator:
                role = f"creator, {creator_eligibility(user=user).followers:,} followers"
            else:
                role = "fan"
            self.stdout.write(f"  {person.email:<22} {role}")
