"""The limits form: amounts a limit cannot hold are refused with a message, never a 500."""

from __future__ import annotations

import pytest

from tests.accounts.factories import UserFactory
from wallet.limits import limits_for
from wallet.models import LimitKind

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["21474836.48", "99999999.99", "9999999999.99", "1e12"])
def test_limits_page_refuses_amounts_beyond_what_a_limit_can_hold(user_client, user, value):
    response = user_client.post("/wallet/limits/", {"per_recharge": value, "daily": value})
    assert response.status_code == 400
    assert "A limit can be at most $21,474,836.47." in response.content.decode()
    states = limits_for(user=user, currency="USD")
    assert states[LimitKind.PER_RECHARGE].amount_minor is None
    assert states[LimitKind.DAILY].amount_minor is None


def test_limits_page_accepts_the_largest_limit_it_can_hold(user_client, user):
    response = user_client.post("/wallet/limits/", {"monthly": "21474836.47"})
    assert response.status_code == 302
    assert limits_for(user=user, currency="USD")[LimitKind.MONTHLY].amount_minor == 2_147_483_647


def test_limits_bound_is_in_the_fans_own_currency(client):
    fan = UserFactory(profile__country="KR")
    client.force_login(fan)
    response = client.post("/wallet/limits/", {"per_recharge": "2147483648"})
    assert response.status_code == 400
    assert "A limit can be at most ₩2,147,483,647." in response.content.decode()
    assert client.post("/wallet/limits/", {"per_recharge": "2147483647"}).status_code == 302
