"""The demo fan buys 350 coins on the simulated checkout, refunds them from the purchase
history, then meets a declined card."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _login(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", "fan@example.com")
    page.fill("input[name=password]", "giftcast-demo")
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{base}/")


def _pay(page, number: str) -> None:
    page.fill("input[name=number]", number)
    page.fill("input[name=expiry]", "12 / 34")
    page.fill("input[name=cvc]", "123")
    page.fill("input[name=name]", "Demo Fan")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_buy_350_coins_then_a_declined_card(live_server, open_page, shot, viewport):
    call_command("seed_demo")
    base = live_server.url
    size = "desktop" if viewport is DESKTOP else "phone"
    page = open_page(base, viewport=viewport)
    _login(page, base)

    page.get_by_role("link", name="Wallet").click()
    expect(page.get_by_test_id("coin-balance")).to_have_text("5,000")
    page.get_by_role("link", name="Recharge", exact=True).first.click()
    expect(page).to_have_url(f"{base}/wallet/recharge/")
    page.locator("label.package", has_text="$3.70").click()
    shot(page, f"10-recharge-{size}")
    page.get_by_role("button", name="Recharge").click()

    expect(page).to_have_url(re.compile(r"/wallet/checkout/cs_sim_"))
    expect(page.get_by_test_id("checkout-total")).to_have_text("$3.70")
    _pay(page, "4242 4242 4242 4242")
    expect(page.get_by_role("heading", name="350 coins added")).to_be_visible()
    expect(page.get_by_test_id("coin-balance")).to_have_text("5,350")
    shot(page, f"11-paid-{size}")

    page.get_by_role("link", name="Back to balance").click()
    page.get_by_role("link", name="Purchases", exact=True).click()
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("350")
    expect(rows.first).to_contain_text("$3.70")
    expect(rows.first).to_contain_text("Paid")
    shot(page, f"12-history-{size}")

    # Changed their mind: the unspent purchase is refunded from the history in one click.
    rows.first.get_by_role("button", name=re.compile("^Refund")).click()
    expect(page.get_by_text("Refunded: 350 coins left your wallet")).to_be_visible()
    expect(rows.first).to_contain_text("Refunded")
    expect(rows.first.get_by_role("button", name=re.compile("^Refund"))).to_have_count(0)
    shot(page, f"12b-refunded-{size}")
    page.get_by_role("link", name="Balance", exact=True).click()
    expect(page.get_by_test_id("coin-balance")).to_have_text("5,000")

    page.get_by_role("link", name="Recharge", exact=True).first.click()
    page.locator("label.package", has_text="$3.70").click()
    page.get_by_role("button", name="Recharge").click()
    _pay(page, "4000 0000 0000 0002")
    expect(page.get_by_text("Your card was declined.")).to_be_visible()
    shot(page, f"13-declined-{size}")
    page.goto(f"{base}/wallet/")
    expect(page.get_by_test_id("coin-balance")).to_have_text("5,000")
    expect(page.get_by_text("Card declined — not charged")).to_be_visible()
