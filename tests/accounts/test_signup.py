"""Sign-up, mandatory email verification, login, rate limits and password reset (allauth)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "new@example.com",
    "handle": "new.fan",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/[^\s]+/)", message.body).group(1)


def test_signup_verify_email_then_login(client):
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="new@example.com")
    assert user.profile.handle == "new.fan"
    assert not EmailAddress.objects.get(user=user).verified

    # Unverified: login is held at the "verify your email" page.
    client.logout()
    response = client.post("/accounts/login/", {"login": "new@example.com", "password": PASSWORD})
    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session

    assert len(mail.outbox) >= 1
    confirm_path = _link(mail.outbox[-1])
    assert client.get(confirm_path).status_code == 200
    response = client.post(confirm_path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified

    client.logout()
    response = client.post("/accounts/login/", {"login": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert int(client.session["_auth_user_id"]) == user.pk


def test_duplicate_email_makes_no_account_and_warns_the_owner(client, user):
    # Enumeration-safe: the visitor sees the usual "check your email" step, and the
    # address's owner is told by email that someone tried to sign up with it.
    response = client.post("/accounts/signup/", {**SIGNUP, "email": user.email.upper()})
    assert response.status_code == 302
    assert User.objects.count() == 1
    assert mail.outbox[-1].to == [user.email]
    assert "already" in mail.outbox[-1].body.lower()


def test_duplicate_handle_is_refused(client, user):
    response = client.post("/accounts/signup/", {**SIGNUP, "handle": user.profile.handle})
    assert response.status_code == 200
    assert "That handle is taken." in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_malformed_handle_is_refused(client):
    response = client.post("/accounts/signup/", {**SIGNUP, "handle": "no spaces!"})
    assert "Enter a valid handle" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_wrong_password_is_refused(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_logins_are_rate_limited(client, user):
    for _ in range(5):
        client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_working_link(client, user):
    response = client.post("/accounts/password/reset/", {"email": user.email})
    assert response.status_code == 302
    reset_path = _link(mail.outbox[-1])
    response = client.get(reset_path, follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else reset_path
    response = client.post(
        form_path, {"password1": "a-brand-new-pass-42", "password2": "a-brand-new-pass-42"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-brand-new-pass-42")
