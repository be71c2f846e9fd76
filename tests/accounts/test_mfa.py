"""Two-factor authentication with allauth.mfa: enrol TOTP, then sign in with a code."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def _login(client, user):
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


def _reauthenticate(client):
    """TOTP activation asks for the password again first, as a real user sees it."""
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302


def test_enrol_totp_then_login_needs_a_code(client, user):
    _login(client, user)
    _reauthenticate(client)
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    assert b"data:image/svg+xml" in response.content  # the QR code
    secret = client.session[SECRET_SESSION_KEY]

    response = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()

    response = client.post("/accounts/2fa/totp/activate/", {"code": _code(secret)})
    assert response.status_code == 302
    types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}

    client.post("/accounts/logout/")
    response = _login(client, user)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session

    response = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert "_auth_user_id" not in client.session

    response = client.post("/accounts/2fa/authenticate/", {"code": _code(secret)})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_recovery_code_signs_in_once(client, user):
    _login(client, user)
    _reauthenticate(client)
    client.get("/accounts/2fa/totp/activate/")
    client.post("/accounts/2fa/totp/activate/", {"code": _code(client.session[SECRET_SESSION_KEY])})
    rc = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    recovery = rc.wrap().get_unused_codes()[0]

    client.post("/accounts/logout/")
    _login(client, user)
    client.post("/accounts/2fa/authenticate/", {"code": recovery})
    assert int(client.session["_auth_user_id"]) == user.pk

    client.post("/accounts/logout/")
    _login(client, user)
    client.post("/accounts/2fa/authenticate/", {"code": recovery})
    assert "_auth_user_id" not in client.session
