"""Creators with earnings made through the real gift service, and what payouts need."""

from __future__ import annotations

import uuid

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from livestreams.services import gift_send
from payouts.models import PayoutMethod, PayoutMethodKind
from tests.livestreams.factories import creator, fan_with, live_stream


def with_mfa(user):
    """Turn on TOTP (and recovery codes) for `user`, as allauth's activation does."""
    TOTP.activate(user, generate_totp_secret())
    RecoveryCodes.activate(user)
    return user


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
