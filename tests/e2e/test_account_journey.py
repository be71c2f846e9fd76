"""A newcomer signs up, verifies the email, signs in and opens their public profile."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "a-long-and-fresh-password-7"


def test_signup_verify_login_and_profile(live_server, open_page, shot):
    page = open_page(live_server.url)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Create your account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.fill("input[name=email]", "newcomer@example.com")
    page.fill("input[name=handle]", "New.Comer")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shot(page, "01-signup-desktop")
    page.get_by_role("button", name="Sign Up").click()

    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    shot(page, "02-check-your-email-desktop")

    body = mail.outbox[-1].body
    confirm_path = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", body).group(1)
    page.goto(f"{live_server.url}{confirm_path}")
    shot(page, "03-confirm-email-desktop")
    page.get_by_role("button", name="Confirm").click()

    # Sign out, then sign in with the verified address.
    page.locator("details.menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "newcomer@example.com")
    page.fill("input[name=password]", PASSWORD)
    shot(page, "04-login-desktop")
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}/")

    page.locator("details.menu summary").click()
    page.get_by_role("link", name=re.compile("@new.comer")).click()
    expect(page).to_have_url(f"{live_server.url}/@new.comer/")
    expect(page.get_by_role("heading", name="@new.comer")).to_be_visible()
    expect(page.get_by_role("link", name="Edit profile")).to_be_visible()
    shot(page, "05-profile-desktop")

    phone_page = open_page(
        live_server.url,
        None,
        "/@new.comer/",
        viewport=PHONE,
        storage_state=page.context.storage_state(),
    )
    expect(phone_page.get_by_role("heading", name="@new.comer")).to_be_visible()
    shot(phone_page, "06-profile-phone")

    assert errors == []
