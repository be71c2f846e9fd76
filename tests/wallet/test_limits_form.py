"""The limits form: amounts a limit cannot hold are refused with a message, never a 500;
what the fan leaves as shown is left as it is."""

from __future__ import annotations

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.factories import fan_moves
from wallet.limits import limit_set, limits_for
from wallet.models import LimitKind, SpendingLimit

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


def _as_shown(response) -> dict[str, str]:
    """What the browser posts back for each field the fan leaves as the page showed it."""
    form = response.context["form"]
    return {
        kind.value: "" if form[kind].value() is None else str(form[kind].value())
        for kind in LimitKind
    }


def test_saving_one_limit_leaves_the_others_as_they_were_after_a_move(user_client, user):
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100)
    limit_set(user=user, kind=LimitKind.PER_RECHARGE, currency="USD", amount_minor=100_000)
    limit_set(user=user, kind=LimitKind.DAILY, currency="USD", amount_minor=1000)
    fan_moves(user, "GB")
    shown = _as_shown(user_client.get("/wallet/limits/"))
    assert shown == {"per_recharge": "1.00", "daily": "10.06", "monthly": ""}

    response = user_client.post("/wallet/limits/", {**shown, "monthly": "50"})
    assert response.status_code == 302
    rows = {row.kind: row for row in SpendingLimit.objects.filter(user=user)}
    # Untouched: still in dollars, the $1,000 raise still on its way.
    per = rows[LimitKind.PER_RECHARGE]
    assert (per.currency, per.amount_minor, per.pending_amount_minor) == ("USD", 100, 100_000)
    assert (rows[LimitKind.DAILY].currency, rows[LimitKind.DAILY].amount_minor) == ("USD", 1000)
    assert (rows[LimitKind.MONTHLY].currency, rows[LimitKind.MONTHLY].amount_minor) == ("GBP", 5000)


def test_saving_the_page_unchanged_keeps_a_pending_raise(user_client, user):
    limit_set(user=user, kind=LimitKind.DAILY, currency="USD", amount_minor=1000)
    limit_set(user=user, kind=LimitKind.DAILY, currency="USD", amount_minor=5000)
    shown = _as_shown(user_client.get("/wallet/limits/"))
    assert user_client.post("/wallet/limits/", shown).status_code == 302
    state = limits_for(user=user, currency="USD")[LimitKind.DAILY]
    assert (state.amount_minor, state.pending_amount_minor) == (1000, 5000)
