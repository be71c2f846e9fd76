"""The gift is one sequence (validate → rate-limit → post → announce), the same on every path:
the ORM path, PostgreSQL's one call (gift_post), and the websocket's agift_send. A request
that breaks several rules gets the same refusal whichever path takes it."""

from __future__ import annotations

import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from livestreams import exceptions as errors
from livestreams import realtime, selectors, services
from livestreams.models import ChatMessage, SentGift, StreamStatus
from tests.accounts.factories import UserFactory
from tests.helpers import money_path
from tests.livestreams.factories import fan_with, live_stream
from tests.wallet.factories import fund, wallet_of
from wallet.ledger import account_balance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _paths():
    """Each path this database and cache can run: (name, function that sends one gift)."""

    def sync(database_functions):
        def send(**kw):
            with money_path(database_functions):
                return services.gift_send(**kw)

        return send

    paths = [("orm", sync(False))]
    if connection.vendor == "postgresql":
        paths.append(("gift_post", sync(True)))
    if connection.vendor == "postgresql" and realtime.boards_kept():
        paths.append(("agift_send", lambda **kw: async_to_sync(services.agift_send)(**kw)))
    return paths


def _code(send, **kw) -> str:
    with pytest.raises(errors.RoomError) as info:
        send(**{"gift_slug": "rose", "quantity": 1, "key": str(uuid.uuid4()), **kw})
    return info.value.code


# The websocket's path reads on connections of its own: the rows must be committed.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_path_refuses_in_the_same_order(settings, time_machine):
    """A sender who is not verified, is over the rate limit and sends to an ended stream is
    told about the address first; verified, about the rate; under the rate, that the stream
    ended. The ORM path used to check the room before the rate limit."""
    time_machine.move_to(1_900_000_000, tick=False)
    settings.GIFT_RATE_LIMIT = "1/60"
    for name, send in _paths():
        stream = live_stream(status=StreamStatus.ENDED)
        unverified = UserFactory(verified=False)
        fund(unverified, 10)
        fan = fan_with(10)
        spent = fan_with(10)
        realtime.rate_limited("gift", spent.pk, settings.GIFT_RATE_LIMIT)  # the one allowed
        assert _code(send, sender=AnonymousUser(), stream_id=stream.pk) == "auth_required", name
        assert _code(send, sender=unverified, stream_id=stream.pk) == "verify_required", name
        assert _code(send, sender=spent, stream_id=stream.pk) == "rate_limited", name
        assert _code(send, sender=fan, stream_id=stream.pk) == "not_live", name
        # The refused requests moved nothing.
        assert not SentGift.objects.filter(stream=stream).exists(), name
        assert (
            account_balance(wallet_of(unverified)) == 10 and account_balance(wallet_of(fan)) == 10
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_unverified_sender_is_refused_by_the_service_itself():
    """Not only the websocket: the service refuses a gift or a chat message from an account
    without a verified address, and sends once it is verified."""
    from allauth.account.models import EmailAddress

    stream = live_stream()
    fan = UserFactory(verified=False)
    fund(fan, 10)
    for name, send in _paths():
        assert _code(send, sender=fan, stream_id=stream.pk) == "verify_required", name
    with pytest.raises(errors.RoomError, match="Verify your email"):
        services.chat_send(user=fan, stream_id=stream.pk, text="hi")
    assert not SentGift.objects.exists() and not ChatMessage.objects.exists()
    EmailAddress.objects.create(user=fan, email=fan.email, verified=True, primary=True)
    fan = type(fan).objects.get(pk=fan.pk)  # (the old object remembers its no a few seconds)
    result = services.gift_send(
        sender=fan, stream_id=stream.pk, gift_slug="rose", quantity=1, key=str(uuid.uuid4())
    )
    assert result.balance == 9
    services.chat_send(user=fan, stream_id=stream.pk, text="hi")
    assert ChatMessage.objects.filter(user=fan).count() == 1


def test_a_verified_address_is_read_once_per_user_object(django_assert_num_queries):
    """A room's connection keeps its user: the address is asked about once, not per gift;
    an unverified account's no is remembered a while too (a flood of frames costs no query
    each)."""
    from accounts.selectors import email_verified

    fan = fan_with(0)
    with django_assert_num_queries(1):
        assert email_verified(user=fan) and email_verified(user=fan)
    stranger = UserFactory(verified=False)
    with django_assert_num_queries(1):
        assert not email_verified(user=stranger) and not email_verified(user=stranger)
    assert not email_verified(user=AnonymousUser()) and not email_verified(user=None)


def test_the_rate_limit_window_ends_on_the_clock(settings, time_machine):
    """GIFT_RATE_LIMIT counts sends per fixed window: the next window allows them again."""
    settings.GIFT_RATE_LIMIT = "2/10"
    time_machine.move_to(1_900_000_000, tick=False)
    stream, fan = live_stream(), fan_with(10)

    def send():
        return services.gift_send(
            sender=fan, stream_id=stream.pk, gift_slug="rose", quantity=1, key=str(uuid.uuid4())
        )

    send(), send()
    with pytest.raises(errors.RoomError, match="Slow down"):
        send()
    time_machine.move_to(1_900_000_009.9, tick=False)  # the same window
    with pytest.raises(errors.RoomError, match="Slow down"):
        send()
    time_machine.move_to(1_900_000_010, tick=False)  # the next one
    assert send().balance == 7
    assert SentGift.objects.filter(sender=fan).count() == 3
    assert time.time() == 1_900_000_010


def test_one_rule_for_who_manages_a_room():
    stream = live_stream()
    staff = UserFactory(is_staff=True)
    fan = UserFactory()
    assert selectors.may_manage(stream=stream, user=stream.creator)
    assert selectors.may_manage(stream=stream, user=staff)
    assert not selectors.may_manage(stream=stream, user=fan)
    assert not selectors.may_manage(stream=stream, user=AnonymousUser())
    for action in (
        lambda: services.stream_end(stream=stream, by=fan),
        lambda: services.overlay_token_reset(stream=stream, by=fan),
        lambda: services.room_ban(stream=stream, user=staff, by=fan),
        lambda: services.room_unban(stream=stream, user=staff, by=fan),
    ):
        with pytest.raises(errors.RoomError, match="Only the creator and staff"):
            action()
    services.overlay_token_reset(stream=stream, by=staff)
    assert services.stream_end(stream=stream, by=stream.creator).status == StreamStatus.ENDED
