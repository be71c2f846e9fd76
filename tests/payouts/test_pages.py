"""The creator's pages and staff's queue: who sees what, what the figures say, and that
requesting needs two-factor authentication and a fresh re-authentication."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from livestreams.models import SentGift
from payouts.models import ExchangeRate, Payout, PayoutMethod, PayoutStatus, StripeAccount
from payouts.services import earnings_rollup, payout_request, payout_transition
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD
from tests.livestreams.factories import fan_with
from tests.payouts.factories import earning_creator, login_with_mfa, send, sent_at
from wallet.ledger import ledger_audit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

CLEARED = dt.timedelta(days=8)


@pytest.fixture
def creator_client(client):
    """A creator with 10 cleared Galaxies (5,000 diamonds) and 2 clearing Roses from another
    fan, signed in by password (so a re-authentication is a real one)."""
    owner, stream, fan = earning_creator(gifts=10, password=PASSWORD)
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    other = fan_with(100, profile__handle="rosefan")
    send(other, stream, "rose", quantity=3)
    login_with_mfa(client, owner, PASSWORD)
    client.owner, client.stream, client.fan = owner, stream, fan
    return client


def _reauthenticate(client):
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


# ----------------------------------------------------------------------------- access


def test_anonymous_visitors_go_to_log_in(client):
    for url in (
        "/creator/",
        "/creator/payouts/",
        "/creator/payouts/method/",
        "/creator/earnings.csv",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_non_creators_see_what_is_missing(user_client):
    for url in ("/creator/", "/creator/payouts/", "/creator/earnings.csv"):
        response = user_client.get(url)
        assert response.status_code == 200
        assert b"Become a creator" in response.content
        assert b"open once your account meets these requirements" in response.content


def test_a_creator_cannot_open_another_creators_payout(creator_client):
    other, stream, _ = earning_creator(gifts=10)
    sent_at(stream, dt.datetime.now(dt.UTC) - CLEARED)
    theirs = payout_request(creator=other, diamonds=2_000, key=str(uuid.uuid4()))
    assert creator_client.get(f"/creator/payouts/{theirs.pk}/").status_code == 404
    mine = payout_request(creator=creator_client.owner, diamonds=2_000, key=str(uuid.uuid4()))
    response = creator_client.get(f"/creator/payouts/{mine.pk}/")
    assert response.status_code == 200 and b"Payout #" in response.content


# ----------------------------------------------------------------------------- dashboard


def test_dashboard_figures_match_the_ledger(creator_client):
    response = creator_client.get("/creator/")
    assert response.status_code == 200
    earnings = response.context["earnings"]
    # 10 Galaxies → 5,000 cleared; 3 Roses from a fresh fan → floor(3 × 0.5) in clearing.
    roses = SentGift.objects.get(gift__slug="rose").diamonds
    assert (earnings.available, earnings.clearing, earnings.held) == (5_000, roses, 0)
    assert earnings.lifetime_earned == 5_000 + roses
    html = response.content.decode()
    assert 'data-testid="available">5,000<' in html
    assert "$25.00" in html  # 5,000 diamonds at $0.005
    assert "Every 2 coins a fan gifts you in a stream earn you 1 diamond" in html
    assert "A Universe (44,999 coins) earns you 22,499 diamonds = $112.49" in html
    assert "the odd diamond waits for your next payout" in html
    assert response.context["daily"].total == 5_000 + roses
    assert ledger_audit().ok


def test_dashboard_shows_cash_in_the_creators_currency_at_staffs_rate(creator_client):
    profile = creator_client.owner.profile
    profile.country = "GB"
    profile.save()
    assert "$25.00" in creator_client.get("/creator/").content.decode()  # no rate yet: USD
    ExchangeRate.objects.create(currency="GBP", per_usd=Decimal("0.8"))
    html = creator_client.get("/creator/").content.decode()
    assert "≈ £20.00" in html


def test_top_supporters_hide_anonymous_and_opted_out_fans(creator_client):
    stream = creator_client.stream
    shy = fan_with(10_000, profile__handle="shyfan", profile__hide_from_rankings=True)
    send(shy, stream, "corgi")
    incognito = fan_with(10_000, profile__handle="incognito")
    send(incognito, stream, "sunglasses", anonymous=True)
    response = creator_client.get("/creator/")
    names = [s.name for s in response.context["supporters"]]
    handles = [s.handle for s in response.context["supporters"]]
    assert "shyfan" not in handles and "incognito" not in handles
    assert names.count("Anonymous") == 2
    assert f"@{creator_client.fan.profile.handle}" in names
    assert b"@incognito" not in response.content and b"@shyfan" not in response.content


def test_dashboard_query_count_does_not_grow_with_gifts(
    creator_client, django_assert_max_num_queries, settings
):
    settings.GIFT_RATE_LIMIT = "100000/10"
    creator_client.get("/creator/")  # warm what is cached per process

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert creator_client.get("/creator/").status_code == 200
        return len(queries)

    small = count()
    fan = fan_with(10_000_000)
    for _ in range(990):
        send(fan, creator_client.stream, "rose")
    assert SentGift.objects.count() > 1_000
    assert count() == small
    # Read from the tallies as well, for a small and a big history alike.
    earnings_rollup()
    rolled = count()
    for _ in range(1_000):
        send(fan, creator_client.stream, "rose")
    earnings_rollup()
    assert count() == rolled


def test_earnings_csv_has_one_row_per_gift_with_its_status(creator_client, settings):
    owner, stream = creator_client.owner, creator_client.stream
    staff = UserFactory(is_staff=True)
    paid = payout_request(creator=owner, diamonds=2_000, key=str(uuid.uuid4()))
    payout_transition(payout_id=paid.pk, to=PayoutStatus.APPROVED, by=staff)
    payout_transition(payout_id=paid.pk, to=PayoutStatus.PAID, by=staff, reference="PP-1")
    anon = fan_with(5_000)
    send(anon, stream, "galaxy", anonymous=True)
    response = creator_client.get("/creator/earnings.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "time_utc",
        "stream",
        "gift",
        "quantity",
        "fan",
        "coins",
        "diamonds",
        "status",
    ]
    body = rows[1:]
    assert len(body) == SentGift.objects.count() == 12
    statuses = [row[7] for row in body]
    # $10 paid = 2,000 diamonds = the 4 oldest Galaxies; 6 available; the Roses and the
    # anonymous Galaxy are still clearing.
    assert statuses == ["paid out"] * 4 + ["available"] * 6 + ["clearing"] * 2
    assert body[-1][4] == "Anonymous" and body[-1][2] == "Galaxy"
    assert body[-2][4] == "@rosefan" and body[-2][3] == "3"
    assert body[0][0].endswith("Z") and "T" in body[0][0]


# ----------------------------------------------------------------------------- requesting


def test_requesting_needs_a_fresh_reauthentication(creator_client):
    key = str(uuid.uuid4())
    response = creator_client.post("/creator/payouts/", {"diamonds": "2000", "key": key})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert Payout.objects.count() == 0
    # allauth replays the suspended request once the password is given again.
    response = creator_client.post(response["Location"], {"password": PASSWORD})
    assert Payout.objects.filter(key=key, diamonds=2_000).count() == 1
    assert creator_client.get("/creator/payouts/").status_code == 200


@pytest.mark.parametrize(
    ("diamonds", "message"),
    [
        ("1999", "minimum payout"),
        ("6000", "5,000 diamonds available"),
        ("20.5", "whole number"),
        ("-5", "greater than or equal to 1"),
        ("abc", "whole number"),
        ("9" * 40, "less than or equal to"),
    ],
)
def test_bad_requests_show_a_clear_error_and_change_nothing(creator_client, diamonds, message):
    _reauthenticate(creator_client)
    response = creator_client.post(
        "/creator/payouts/", {"diamonds": diamonds, "key": str(uuid.uuid4())}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Payout.objects.count() == 0


def test_double_click_is_one_payout(creator_client):
    _reauthenticate(creator_client)
    key = str(uuid.uuid4())
    for _ in range(2):
        response = creator_client.post("/creator/payouts/", {"diamonds": "2000", "key": key})
        assert response.status_code == 302
    assert Payout.objects.count() == 1


def test_without_two_factor_the_page_leads_to_setting_it_up(client):
    owner, _, _ = earning_creator(gifts=1, mfa=False, password=PASSWORD)
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    response = client.get("/creator/payouts/")
    assert response.status_code == 200
    assert reverse("mfa_activate_totp") in response.content.decode()
    assert b"Request payout" not in response.content


# ----------------------------------------------------------------------------- methods


def test_method_form_refuses_a_bad_iban_and_saves_a_good_one(creator_client):
    _reauthenticate(creator_client)
    response = creator_client.post(
        "/creator/payouts/method/",
        {"kind": "bank", "bank_holder": "Eve Example", "iban": "DE00 1234 5678 9012 3456 78"},
    )
    assert response.status_code == 400
    assert "IBAN isn't valid: Invalid checksum digits" in html.unescape(response.content.decode())
    response = creator_client.post(
        "/creator/payouts/method/",
        {"kind": "bank", "bank_holder": "Eve Example", "iban": "de89 3704 0044 0532 0130 00"},
    )
    assert response.status_code == 302
    method = PayoutMethod.objects.get(creator=creator_client.owner, active=True)
    assert (method.iban, method.masked) == ("DE89370400440532013000", "Bank ••••3000")
    page = creator_client.get("/creator/payouts/").content.decode()
    assert "Bank ••••3000" in page and "DE89370400440532013000" not in page


def test_changing_the_method_needs_reauthentication(creator_client):
    response = creator_client.post(
        "/creator/payouts/method/", {"kind": "paypal", "paypal_email": "new@example.com"}
    )
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert not PayoutMethod.objects.filter(paypal_email="new@example.com").exists()


# ----------------------------------------------------------------------------- staff


def test_staff_approve_and_mark_paid_in_admin(creator_client, client):
    payout = payout_request(creator=creator_client.owner, diamonds=2_000, key=str(uuid.uuid4()))
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    queue = client.get("/admin/payouts/payout/?status__exact=requested")
    assert queue.status_code == 200
    assert "available 3,000 · clearing 1 · held 2,000" in queue.content.decode()
    page = client.get(f"/admin/payouts/payout/{payout.pk}/change/")
    assert page.status_code == 200 and b"Approve" in page.content
    act = f"/admin/payouts/payout/{payout.pk}/act/"
    client.post(act, {"action": "approve"})
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.APPROVED
    response = client.post(act, {"action": "paid", "reference": ""}, follow=True)
    assert b"Record the payment" in response.content
    client.post(act, {"action": "paid", "reference": "PAYPAL-9"})
    payout.refresh_from_db()
    assert (payout.status, payout.provider_reference) == (PayoutStatus.PAID, "PAYPAL-9")
    response = client.post(act, {"action": "reject", "note": "late"}, follow=True)
    assert "A paid payout can't be marked rejected" in html.unescape(response.content.decode())


def test_staff_cannot_act_on_their_own_payout_in_admin(creator_client):
    owner = creator_client.owner
    type(owner).objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    payout = payout_request(creator=owner, diamonds=2_000, key=str(uuid.uuid4()))
    creator_client.post(f"/admin/payouts/payout/{payout.pk}/act/", {"action": "approve"})
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


def test_a_creators_wallet_links_to_their_diamonds(creator_client, user):
    page = creator_client.get("/wallet/").content.decode()
    assert "Your diamonds" in page and 'href="/creator/"' in page
    creator_client.force_login(user)
    assert "Your diamonds" not in creator_client.get("/wallet/").content.decode()


def test_after_turning_on_two_factor_the_creator_is_led_back(client):
    from tests.payouts.factories import totp_code

    owner, _, _ = earning_creator(gifts=1, mfa=False, password=PASSWORD)
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    client.get("/creator/payouts/")
    _reauthenticate(client)
    client.get("/accounts/2fa/totp/activate/")
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    secret = client.session[SECRET_SESSION_KEY]
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)}, follow=True)
    assert "Recovery Codes" in response.content.decode()
    assert 'href="/creator/payouts/"' in response.content.decode()


def test_staff_see_stripe_connect_accounts_read_only(client):
    owner, _, _ = earning_creator(gifts=0)
    account = StripeAccount.objects.create(
        creator=owner, account_id="acct_1Giftcast", payouts_enabled=True
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = client.get("/admin/payouts/stripeaccount/?payouts_enabled__exact=1")
    assert listing.status_code == 200 and b"acct_1Giftcast" in listing.content
    page = client.get(f"/admin/payouts/stripeaccount/{account.pk}/change/")
    assert page.status_code == 200 and b'name="account_id"' not in page.content
    client.post(f"/admin/payouts/stripeaccount/{account.pk}/change/", {"account_id": "acct_x"})
    assert StripeAccount.objects.get().account_id == "acct_1Giftcast"
    assert client.get("/admin/payouts/stripeaccount/add/").status_code == 403
