"""The demo creator turns on two-factor authentication, adds PayPal and cashes out $10;
staff approve and pay it in admin; the creator sees it paid and the balance right."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE
from tests.payouts.factories import totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "giftcast-demo"


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{base}/")


def _reauthenticate_if_asked(page) -> None:
    if "/accounts/reauthenticate/" in page.url:
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Confirm").click()


def _figure(page, test_id: str) -> int:
    return int(page.get_by_test_id(test_id).inner_text().replace(",", ""))


def test_creator_cashes_out_and_staff_pay_it(live_server, open_page, shot):
    call_command("seed_demo")
    base = live_server.url
    page = open_page(base)
    _login(page, base, "creator@example.com")

    page.locator("summary[aria-label='Account menu']").click()
    page.get_by_role("link", name="Creator dashboard").click()
    expect(page).to_have_url(f"{base}/creator/")
    available = _figure(page, "available")
    assert available >= 2_000, "seed_demo gives the demo creator cleared earnings"
    expect(page.get_by_text("Every 2 coins a fan gifts you")).to_be_visible()
    shot(page, "40-creator-dashboard-desktop")

    page.get_by_role("link", name="Cash out").click()
    expect(page).to_have_url(f"{base}/creator/payouts/")
    page.get_by_role("link", name="Set up two-factor authentication").click()
    _reauthenticate_if_asked(page)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    code = totp_code(secret)  # (waits out the last seconds of a period, as a person would)
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/"))

    page.get_by_role("link", name="Continue where you were").click()
    expect(page).to_have_url(f"{base}/creator/payouts/")
    page.get_by_role("link", name="Add a payout method").click()
    _reauthenticate_if_asked(page)
    page.get_by_label("PayPal", exact=True).check()
    page.fill("input[name=paypal_email]", "creator.paypal@example.com")
    page.get_by_role("button", name="Save payout method").click()
    expect(page).to_have_url(f"{base}/creator/payouts/")
    expect(page.get_by_text("Payouts now go to PayPal ••••ypal@…")).to_be_visible()

    page.fill("input[name=diamonds]", "2001")
    expect(page.locator("[data-preview-cash]")).to_have_text("$10.00")
    expect(page.locator("[data-preview-left]")).to_contain_text("1 diamond stays")
    shot(page, "41-creator-payouts-form-desktop")
    page.get_by_role("button", name="Request payout").click()
    _reauthenticate_if_asked(page)
    expect(page.get_by_text(re.compile(r"Payout #\d+ requested"))).to_be_visible()
    expect(page.locator("table .status-requested")).to_have_text("Requested")
    assert _figure(page, "available") == available - 2_000

    admin = open_page(base)
    _login(admin, base, "staff@example.com")
    admin.goto(f"{base}/admin/payouts/payout/?status__exact=requested")
    admin.locator("#result_list tbody tr th a").first.click()
    admin.get_by_role("button", name="Approve").click()
    expect(admin.get_by_text(re.compile(r"Payout #\d+ is approved"))).to_be_visible()
    admin.fill("input[name=reference]", "PAYPAL-7XK2")
    shot(admin, "42-admin-payout-desktop")
    admin.get_by_role("button", name="Mark paid").click()
    expect(admin.get_by_text(re.compile(r"Payout #\d+ is paid"))).to_be_visible()

    page.reload()
    expect(page.locator("table .status-paid")).to_have_text("Paid")
    expect(page.get_by_text("PAYPAL-7XK2")).to_be_visible()
    assert _figure(page, "available") == available - 2_000
    page.goto(f"{base}/creator/")
    assert _figure(page, "paid") == 2_000
    assert _figure(page, "held") == 0
    shot(page, "43-creator-dashboard-paid-desktop")

    small = open_page(base, viewport=PHONE, storage_state=page.context.storage_state())
    for path, name in (("/creator/", "44-creator-dashboard-phone"),
                       ("/creator/payouts/", "45-creator-payouts-phone")):  # fmt: skip
        small.goto(f"{base}{path}")
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
        shot(small, name)
