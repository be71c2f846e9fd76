"""Creators with earnings made through the real gift service, and what payouts need."""

from __future__ import annotations

import time
import uuid

from allauth.mfa import app_settings
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)

from livestreams.services import gift_send
from payouts.models import PayoutMethod, PayoutMethodKind
from tests.livestreams.factories import creator, fan_with, live_stream


def with_mfa(user):
    """Turn on TOTP (and recovery codes) for `user`, as allauth's activation does; the
    secret is kept on the object (`user.totp_secret`) for `totp_code`."""
    user.totp_secret = generate_totp_secret()
    TOTP.activate(user, user.totp_secret)
    RecoveryCodes.activate(user)
    return user


def totp_code(secret: str) -> str:
    """The authenticator app's code now. Close to the end of a period (allauth accepts the
    current period only, MFA_TOTP_TOLERANCE 0) it waits for the next, as a person would, so
    the code is still valid when the server checks it."""
    period = app_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < 3:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def login_with_mfa(client, user, password: str) -> None:
    """Sign in as a person does: password, then the authenticator app's code."""
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response["Location"] == "/accounts/2fa/authenticate/", response
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(user.totp_secret)})
    assert response.status_code == 302 and int(client.session["_auth_user_id"]) == user.pk


def paypal(user, email: str | None = None) -> PayoutMethod:
    return PayoutMethod.objects.create(
        creator=user,
        kind=PayoutMethodKind.PAYPAL,
        paypal_email=email or f"pay{user.pk}@example.com",
    )


def send(fan, stream, slug: str = "galaxy", quantity: int = 1, **kwargs):
    return gift_send(
        sender=fan, stream_id=stream.pk, gift_slug=slug, quantity=quantity,
        key=str(uuid.uuid4()), **kwargs,
    )  # fmt: skip


def sent_at(result_or_stream, when) -> None:
    """Date a gift (a gift_send result) or every gift of a stream back to `when`.

    The gift path stamps rows with the database's clock (PostgreSQL's now()), which a
    Python clock fake doesn't move; clearing reads SentGift.created_at, so that is what a
    test moves."""
    from livestreams.models import SentGift

    rows = SentGift.objects.all()
    if hasattr(result_or_stream, "sent"):
        rows = rows.filter(pk=result_or_stream.sent.pk)
    else:
        rows = rows.filter(stream=result_or_stream)
    rows.update(created_at=when)


def earning_creator(*, gifts: int = 1, slug: str = "galaxy", mfa: bool = True, method=True,
                    fan=None, **kwargs):  # fmt: skip
    """A creator (MFA on, PayPal saved) whose live stream received `gifts` gifts of `slug`."""
    owner = creator(**kwargs)
    if mfa:
        with_mfa(owner)
    if method:
        paypal(owner)
    stream = live_stream(owner)
    fan = fan or fan_with(10_000_000)
    for _ in range(gifts):
        send(fan, stream, slug)
    return owner, stream, fan
