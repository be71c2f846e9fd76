"""Staff adjustments, the read-only ledger in admin, history, CSV and statement pages."""

from __future__ import annotations

import csv
import io

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.factories import fund, wallet_of
from wallet.ledger import account_balance
from wallet.models import Account, Transaction, TransactionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def test_adjustment_needs_a_reason(staff_client):
    fan = UserFactory()
    response = staff_client.post(
        "/admin/wallet/account/adjust/",
        {"email": fan.email, "unit": "COIN", "amount": "50", "reason": "  ", "key": "adj-1"},
    )
    assert response.status_code == 200
    assert (
        "This field is required" in response.content.decode()
        or "A reason is required" in response.content.decode()
    )
    assert not Transaction.objects.exists()


def test_adjustment_posts_balanced_once_and_records_staff(staff_client):
    fan = UserFactory()
    data = {
        "email": fan.email,
        "unit": "COIN",
        "amount": "50",
        "reason": "Goodwill for outage",
        "key": "adj-1",
    }
    assert staff_client.post("/admin/wallet/account/adjust/", data).status_code == 302
    assert (
        staff_client.post("/admin/wallet/account/adjust/", data).status_code == 302
    )  # double submit
    txn = Transaction.objects.get(kind=TransactionKind.ADJUSTMENT)
    assert txn.created_by == staff_client.staff and txn.memo == "Goodwill for outage"
    assert account_balance(wallet_of(fan)) == 50


def test_negative_adjustment_cannot_overdraw(staff_client):
    fan = UserFactory()
    fund(fan, 10)
    data = {"email": fan.email, "unit": "COIN", "amount": "-11", "reason": "typo", "key": "adj-2"}
    response = staff_client.post("/admin/wallet/account/adjust/", data)
    assert "Not enough coins" in response.content.decode()
    assert account_balance(wallet_of(fan)) == 10


def test_unknown_user_is_refused(staff_client):
    data = {
        "email": "nobody@example.com",
        "unit": "COIN",
        "amount": "5",
        "reason": "x",
        "key": "adj-3",
    }
    assert (
        "No user with that email."
        in staff_client.post("/admin/wallet/account/adjust/", data).content.decode()
    )


@pytest.mark.parametrize("model", ["transaction", "entry", "account", "webhookevent"])
def test_ledger_is_read_only_in_admin(staff_client, model):
    fan = UserFactory()
    txn = fund(fan, 5)
    assert staff_client.get(f"/admin/wallet/{model}/").status_code == 200
    assert staff_client.get(f"/admin/wallet/{model}/add/").status_code == 403
    if model == "transaction":
        assert (
            staff_client.post(
                f"/admin/wallet/transaction/{txn.pk}/delete/", {"post": "yes"}
            ).status_code
            == 403
        )
        assert Transaction.objects.filter(pk=txn.pk).exists()


def test_unfreeze_action(staff_client):
    fan = UserFactory()
    Account.objects.filter(pk=wallet_of(fan).pk).update(frozen=True, frozen_reason="test")
    staff_client.post(
        "/admin/wallet/account/", {"action": "unfreeze", "_selected_action": [wallet_of(fan).pk]}
    )
    assert not Account.objects.get(pk=wallet_of(fan).pk).frozen


def test_non_staff_cannot_adjust(user_client):
    response = user_client.get("/admin/wallet/account/adjust/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_history_csv_lists_purchases(user_client, user):
    from wallet.models import CoinPackage
    from wallet.services import recharge_create

    recharge_create(
        user=user,
        currency="USD",
        package=CoinPackage.objects.get(coins=350, bonus_coins=0),
        success_url="x",
        cancel_url="y",
    )
    response = user_client.get("/wallet/history.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "id", "created_utc", "coins", "amount", "currency", "status", "what_happened", "paid_utc",
    ]  # fmt: skip
    assert rows[1][2:7] == ["350", "3.70", "USD", "pending", "Awaiting payment"]


def test_statement_shows_every_movement_with_its_value(user_client, user):
    fund(user, 350)
    body = user_client.get("/wallet/statement/").content.decode()
    assert "+350" in body and "Recharge" in body
    assert (
        "$3.52" in body
    )  # 350 coins at the best USD package rate, 7,350 for $74.00 (no purchases yet)


@pytest.mark.parametrize(
    "url",
    ["/wallet/", "/wallet/recharge/", "/wallet/history/", "/wallet/statement/", "/wallet/limits/"],
)
def test_wallet_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_balance_page_shows_coins_and_their_value(user_client, user):
    fund(user, 350)
    body = user_client.get("/wallet/").content.decode()
    assert "350" in body
    assert "$3.52" in body  # no purchases: valued at the best package rate (7,350 for $74.00)


@pytest.mark.parametrize(
    ("url", "most"),
    [
        ("/wallet/", 10),
        ("/wallet/recharge/", 10),
        ("/wallet/statement/", 9),
        ("/wallet/limits/", 9),
        ("/wallet/history/", 7),
    ],
)
def test_wallet_pages_have_a_fixed_query_count(
    user_client, user, url, most, django_assert_max_num_queries
):
    for _ in range(12):
        fund(user, 10)  # more history must not mean more queries
    with django_assert_max_num_queries(most):
        assert user_client.get(url).status_code == 200
