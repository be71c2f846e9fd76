"""Sending gifts: one ledger transaction, once per key, refused cleanly, broadcast after commit."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from livestreams import exceptions as room_errors
from livestreams.models import Gift, RoomBan, SentGift, Stream, StreamGifter, StreamStatus
from livestreams.services import diamonds_for, gift_send, stream_end, stream_start
from tests.helpers import postgres_only, run_threads
from tests.livestreams.factories import creator, fan_with, live_stream
from tests.wallet.factories import wallet_of
from wallet import exceptions as wallet_errors
from wallet.ledger import account_balance, account_get
from wallet.models import Account, Purpose, Transaction, TransactionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]


def _send(fan, stream, slug="rose", quantity=1, key=None, **kw):
    return gift_send(
        sender=fan,
        stream_id=stream.pk,
        gift_slug=slug,
        quantity=quantity,
        key=key or str(uuid.uuid4()),
        **kw,
    )


def _diamonds(user) -> int:
    return account_balance(account_get(owner=user, purpose=Purpose.EARNINGS))


def test_catalogue_is_seeded_with_slugs_and_prices():
    gifts = dict(Gift.objects.values_list("slug", "coins"))
    assert gifts["rose"] == 1 and gifts["lion"] == 29_999 and gifts["universe"] == 44_999
    assert list(gifts) == [
        "rose",
        "finger-heart",
        "perfume",
        "love-bang",
        "doughnut",
        "paper-crane",
        "sunglasses",
        "corgi",
        "money-gun",
        "galaxy",
        "diamond-ring",
        "yacht",
        "interstellar",
        "lion",
        "universe",
    ]


@pytest.mark.parametrize(
    ("coins", "diamonds"), [(1, 0), (3, 1), (5, 2), (29_999, 14_999), (44_999, 22_499)]
)
def test_diamonds_are_the_floor_of_the_creator_share(coins, diamonds):
    assert diamonds_for(coins) == diamonds


def test_gift_moves_coins_and_diamonds_and_broadcasts_after_commit(
    django_capture_on_commit_callbacks,
):
    stream = live_stream()
    fan = fan_with(100)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = _send(fan, stream, "perfume", quantity=3)
    assert result.balance == 40 and not result.replayed
    assert account_balance(wallet_of(fan)) == 40
    assert _diamonds(stream.creator) == 30
    sent = SentGift.objects.get()
    assert (sent.coins, sent.diamonds, sent.quantity, sent.gift.slug) == (60, 30, 3, "perfume")
    txn = Transaction.objects.get(pk=sent.transaction_id)
    assert txn.kind == TransactionKind.GIFT and txn.entries.count() == 4
    assert len(callbacks) == 1  # the room hears nothing until the commit


def test_same_key_twice_charges_once():
    stream = live_stream()
    fan = fan_with(10)
    key = str(uuid.uuid4())
    first = _send(fan, stream, "finger-heart", key=key)
    again = _send(fan, stream, "finger-heart", key=key)
    assert again.replayed and again.sent.pk == first.sent.pk
    assert again.balance == 5 and SentGift.objects.count() == 1


def test_same_key_for_another_gift_is_refused():
    stream = live_stream()
    fan = fan_with(50)
    key = str(uuid.uuid4())
    _send(fan, stream, "rose", key=key)
    with pytest.raises(wallet_errors.IdempotencyConflict):
        _send(fan, stream, "perfume", key=key)
    assert account_balance(wallet_of(fan)) == 49


REFUSALS = [
    ("poor", "insufficient_funds"),
    ("ended", "not_live"),
    ("inactive", "gift_unavailable"),
    ("unknown", "gift_unavailable"),
    ("banned", "banned"),
    ("self", "self_gift"),
    ("zero", "bad_quantity"),
    ("too_many", "bad_quantity"),
    ("bad_key", "bad_key"),
    ("frozen", "wallet_frozen"),
]


@pytest.mark.parametrize(("setup", "code"), REFUSALS)
def test_refusals_change_nothing(setup, code):
    fan, stream, args = refusal_case(setup)
    before = account_balance(wallet_of(fan))
    with pytest.raises((room_errors.RoomError, wallet_errors.WalletError)) as info:
        _send(fan, stream, args["slug"], quantity=args["quantity"], key=args["key"])
    assert info.value.code == code
    assert_nothing_moved(fan, before)


def refusal_case(setup: str):
    """A fan, a live stream and a send (slug, quantity, key) that `setup` makes refused."""
    stream = live_stream()
    fan = fan_with(0 if setup == "poor" else 100)
    args = {"slug": "perfume", "quantity": 1, "key": None}
    if setup == "ended":
        Stream.objects.filter(pk=stream.pk).update(status=StreamStatus.ENDED)
    elif setup == "inactive":
        Gift.objects.filter(slug="perfume").update(active=False)
    elif setup == "unknown":
        args["slug"] = "unicorn"
    elif setup == "banned":
        RoomBan.objects.create(creator=stream.creator, user=fan, kind=RoomBan.Kind.BAN)
    elif setup == "self":
        fan = stream.creator
    elif setup == "zero":
        args["quantity"] = 0
    elif setup == "too_many":
        args["quantity"] = 100
    elif setup == "bad_key":
        args["key"] = "not-a-uuid"
    elif setup == "frozen":
        Account.objects.filter(pk=wallet_of(fan).pk).update(frozen=True)
    return fan, stream, args


def assert_nothing_moved(fan, before: int) -> None:
    assert account_balance(wallet_of(fan)) == before
    assert not SentGift.objects.exists()
    assert not Transaction.objects.filter(kind=TransactionKind.GIFT).exists()


def test_gift_rate_limit(settings, time_machine):
    settings.GIFT_RATE_LIMIT = "3/60"
    time_machine.move_to(1_900_000_020, tick=False)  # one window throughout
    stream = live_stream()
    fan = fan_with(10)
    for _ in range(3):
        _send(fan, stream)
    with pytest.raises(room_errors.RoomError) as info:
        _send(fan, stream)
    assert info.value.code == "rate_limited"
    assert SentGift.objects.count() == 3


def test_stream_start_needs_eligibility_and_one_live_stream():
    star = creator()
    stream = stream_start(creator=star, title="Hello")
    with pytest.raises(room_errors.RoomError) as info:
        stream_start(creator=star, title="Again")
    assert info.value.code == "already_live"
    stream_end(stream=stream, by=star)
    assert stream_start(creator=star, title="Again").is_live
    newcomer = fan_with(0)
    with pytest.raises(room_errors.RoomError) as info:
        stream_start(creator=newcomer, title="Me")
    assert info.value.code == "not_eligible"


def test_only_the_creator_or_staff_ends_a_stream():
    stream = live_stream()
    with pytest.raises(room_errors.RoomError):
        stream_end(stream=stream, by=fan_with(0))
    staff = fan_with(0, is_staff=True)
    assert stream_end(stream=stream, by=staff).status == StreamStatus.ENDED


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_racing_gifts_from_a_fan_who_can_pay_for_twenty(settings):
    settings.GIFT_RATE_LIMIT = "1000/10"
    stream = live_stream()
    fan = fan_with(100)  # Finger Heart is 5 coins: exactly 20 fit
    results = run_threads(50, lambda i: _send(fan, stream, "finger-heart"))
    ok = [r for r in results if hasattr(r, "sent")]
    refused = [r for r in results if isinstance(r, wallet_errors.InsufficientFunds)]
    assert (len(ok), len(refused)) == (20, 30), [r for r in results if not hasattr(r, "sent")][:3]
    assert account_balance(wallet_of(fan)) == 0
    assert _diamonds(stream.creator) == 100 // 2  # the share of the fan's 100 coins, exactly
    assert SentGift.objects.count() == 20
    # The running total behind the live ranking agrees with the gifts, even under the race.
    assert StreamGifter.objects.get(stream=stream, sender=fan).coins == 100


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_key_sent_ten_times_at_once_is_one_gift():
    stream = live_stream()
    fan = fan_with(100)
    key = str(uuid.uuid4())
    results = run_threads(10, lambda i: _send(fan, stream, "perfume", key=key))
    assert all(hasattr(r, "sent") for r in results), results
    assert len({r.sent.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert account_balance(wallet_of(fan)) == 80
    assert StreamGifter.objects.get(stream=stream, sender=fan).coins == 20


def test_running_totals_keep_anonymous_sends_apart():
    stream = live_stream()
    fan = fan_with(200)
    _send(fan, stream, "perfume", quantity=2)
    _send(fan, stream, "perfume", quantity=1)
    _send(fan, stream, "doughnut", quantity=1, anonymous=True)
    totals = dict(StreamGifter.objects.filter(stream=stream).values_list("anonymous", "coins"))
    assert totals == {False: 60, True: 30}


@postgres_only
def test_a_stream_or_gift_with_sends_cannot_be_deleted_in_the_database():
    """SentGift has no foreign-key constraint on stream and gift (hot rows): a trigger keeps
    what sends point at (migration 0007)."""
    stream = live_stream()
    gift_send(sender=fan_with(10), stream_id=stream.pk, gift_slug="rose", quantity=1,
              key=str(uuid.uuid4()))  # fmt: skip
    sent = SentGift.objects.get()
    for table, pk in (("livestreams_stream", stream.pk), ("livestreams_gift", sent.gift_id)):
        with (
            pytest.raises(DatabaseError, match="has gifts sent and is kept"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed names
    # Rows nobody sent anything to may go.
    quiet = live_stream()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM livestreams_stream WHERE id = %s", [quiet.pk])
    assert not type(stream).objects.filter(pk=quiet.pk).exists()
