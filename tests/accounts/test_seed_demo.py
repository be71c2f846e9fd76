from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Follow, User
from accounts.selectors import creator_eligibility

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_makes_eligible_creators(capsys):
    call_command("seed_demo")
    counts = (User.objects.count(), Follow.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Follow.objects.count()) == counts
    out = capsys.readouterr().out
    assert "fan@example.com" in out and "giftcast-demo" in out

    creator = User.objects.get(email="creator@example.com")
    assert creator.check_password("giftcast-demo")
    assert creator_eligibility(user=creator).eligible
    staff = User.objects.get(email="staff@example.com")
    assert staff.is_staff and staff.is_superuser
    fan = User.objects.get(email="fan@example.com")
    assert not fan.is_staff
    assert fan.emailaddress_set.get().verified


def test_seed_demo_refuses_without_permission(settings):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="refuses"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_demo_login_works(client):
    call_command("seed_demo")
    response = client.post(
        "/accounts/login/", {"login": "fan@example.com", "password": "giftcast-demo"}
    )
    assert response.status_code == 302
