from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_PASSWORD, PEOPLE, seed_people
from accounts.selectors import creator_eligibility


class Command(BaseCommand):
    help = "Create or refresh the demo data (idempotent). Refuses to run under production settings."

    def handle(self, *args, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "seed_demo writes accounts with a published password; it refuses to run under "
                "these settings (DEMO_DATA_ALLOWED is off, as in production)."
            )
        people = seed_people()
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for person in PEOPLE:
            if person.email not in {"fan@example.com", "creator@example.com", "staff@example.com"}:
                continue
            user = people[person.email]
            role = (
                "staff (admin at /admin/)"
                if person.staff
                else ("creator" if person.creator else "fan")
            )
            extra = ""
            if person.creator:
                eligibility = creator_eligibility(user=user)
                extra = f", {eligibility.followers:,} followers"
            self.stdout.write(f"  {person.email:<22} {role}{extra}")
