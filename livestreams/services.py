"""Writes of live rooms. Gifts move value only through the wallet's ledger.

A committed gift is one record in the money log (config/logs.py), `gift.sent`, written where
the sequence announces it (_announcement), on every path, from what the post returned."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.selectors import creator_eligibility, email_verified, email_verified_known
from config.logs import money_log, money_log_on_commit
from config.pgcall import aprepared_row, prepared_row
from wallet.ledger import OwnerLeg, database_refusal, transfer_post
from wallet.models import SYSTEM_ACCOUNT_IDS, Purpose, TransactionKind

from . import exceptions as errors
from . import realtime, selectors
from .models import ChatMessage, Gift, RoomBan, SentGift, Stream, StreamGifter, StreamStatus
from .realtime import bursts


def diamonds_for(coins: int) -> int:
    """floor(coins × CREATOR_SHARE), in exact decimal arithmetic."""
    return int((Decimal(coins) * settings.CREATOR_SHARE).to_integral_value(rounding=ROUND_FLOOR))


def diamonds_earned(*, before: int, coins: int) -> int:
    """What a gift of `coins` earns the creator when the fan has given `before` coins in the
    stream already: the step it makes in floor(total × CREATOR_SHARE), so that a fan's gifts
    to a stream earn diamonds_for(their total) in all (DESIGN §2), not a floor per gift."""
    return diamonds_for(before + coins) - diamonds_for(before)


# ----------------------------------------------------------------------------- streams


def _require_manager(stream: Stream, by) -> None:
    """Ending a stream, resetting its overlay and moderating its room are for its creator
    and staff (selectors.may_manage)."""
    if not selectors.may_manage(stream=stream, user=by):
        raise errors.error(errors.NOT_ALLOWED)


def stream_start(
    *, creator, title: str, hls_url: str = "", goal_coins: int | None = None, cover=None
) -> Stream:
    if not creator_eligibility(user=creator).eligible:
        raise errors.error(errors.NOT_ELIGIBLE)
    stream = Stream(
        creator=creator,
        title=title.strip(),
        hls_url=hls_url,
        goal_coins=goal_coins,
        cover=cover or "",
    )
    stream.full_clean(validate_constraints=False)  # the database decides the one-live rule
    try:
        with transaction.atomic():
            stream.save()
    except IntegrityError as exc:  # the one-live-stream constraint decides races
        raise errors.error(errors.ALREADY_LIVE) from exc
    return stream


def stream_end(*, stream: Stream, by) -> Stream:
    _require_manager(stream, by)
    with transaction.atomic(durable=True):
        updated = Stream.objects.filter(pk=stream.pk, status=StreamStatus.LIVE).update(
            status=StreamStatus.ENDED, ended_at=timezone.now()
        )
        if updated:
            realtime.broadcast_on_commit(stream.pk, {"type": "stream.ended"})
    stream.refresh_from_db()
    return stream


# ----------------------------------------------------------------------------- gifts


@dataclass(frozen=True)
class GiftResult:
    sent: SentGift
    replayed: bool
    balance: int
    event: dict


# A gift is one sequence, the same on every backend and for both entry points:
#   1. validate  what the request says (key, quantity, ids), and that the sender is signed in
#                with a verified email address (read once per user object, then remembered);
#   2. limit     the sender's gift rate (GIFT_RATE_LIMIT), before anything is written;
#   3. post      in one transaction: the room checks (live, not the creator's own, the gift
#                offered, not banned), the ledger (coins short, frozen, key reused), the
#                SentGift and the fan's running total. On PostgreSQL one call of the gift_post
#                database function (livestreams/sql/gift_post.sql); elsewhere (SQLite, or
#                USE_DATABASE_FUNCTIONS off) the ORM in _gift_post_portable, which writes the
#                same rows in the same order;
#   4. announce  after commit, the gift and the room's new ranking to the room.
# gift_send runs it for sync callers, agift_send for the room's websocket: each is the four
# steps in this order, and the steps are shared.


@dataclass(frozen=True)
class _GiftRequest:
    sender: object
    stream_id: int
    slug: str
    quantity: int
    key: str
    anonymous: bool


def gift_send(*, sender, stream_id: int, gift_slug: str, quantity: int, key: str,
              anonymous: bool = False) -> GiftResult:  # fmt: skip
    """Send `quantity` of a gift to a live stream's creator, once per (sender, key).

    The ledger debits the fan's coins and credits the creator's diamonds, and the SentGift row
    is written, in one durable transaction; the room hears of it after commit. A repeated key
    returns the first result and charges nothing. Refusals raise RoomError or a wallet error
    and change nothing.

    The gift earns the creator the step it makes in floor(total × CREATOR_SHARE) on the fan's
    running total in the stream, named and anonymous sends together (diamonds_earned).
    """
    _sender_check(sender, verified=email_verified(user=sender))
    request = _gift_validate(sender, stream_id, gift_slug, quantity, key, anonymous)
    if realtime.rate_limited("gift", sender.pk, settings.GIFT_RATE_LIMIT):
        raise errors.error(errors.RATE_LIMITED)
    if _in_one_call():
        with _gift_post_refusals():
            row = prepared_row("giftcast_gift_post", GIFT_POST_SQL, _gift_post_args(request))
        posted = _gift_posted(row, request)
    else:
        posted = _gift_post_portable(request)
    if posted.replayed:
        return _gift_replayed(posted)
    transaction.on_commit(lambda: _gift_announce(posted))  # now, unless inside a transaction
    return GiftResult(posted.sent, False, posted.balance, posted.event)


async def agift_send(*, sender, stream_id: int, gift_slug: str, quantity: int, key: str,
                     anonymous: bool = False) -> GiftResult:  # fmt: skip
    """gift_send for async callers (the room's websocket): the same steps. On PostgreSQL with
    the rooms on Redis every wait (rate limit, the gift, its broadcast) is awaited on the event
    loop, with no hop to a worker thread and back: under load that hop, and the threads'
    contention for the interpreter, cost more than the gift itself (bench/websocket_gifts.py).
    Elsewhere gift_send runs on a worker thread. The sender's verified address and profile
    are read on a thread when not known (accounts.selectors.email_verified remembers a yes
    for good, a no for a few seconds)."""
    if not (_in_one_call() and realtime.boards_kept()):
        return await database_sync_to_async(gift_send, thread_sensitive=False)(
            sender=sender, stream_id=stream_id, gift_slug=gift_slug, quantity=quantity, key=key,
            anonymous=anonymous,
        )  # fmt: skip
    _sender_check(sender, verified=await _asender_loaded(sender))
    request = _gift_validate(sender, stream_id, gift_slug, quantity, key, anonymous)
    if await realtime.arate_limited("gift", sender.pk, settings.GIFT_RATE_LIMIT):
        raise errors.error(errors.RATE_LIMITED)
    with _gift_post_refusals():
        row = await aprepared_row(GIFT_POST_SQL, _gift_post_args(request))
    posted = _gift_posted(row, request)
    if posted.replayed:
        return await database_sync_to_async(_gift_replayed, thread_sensitive=False)(posted)
    # The call was its own transaction, committed by now: the room hears of it (at once, or
    # with the rest of the fan's burst: realtime.bursts).
    stream_id, announcement = posted.sent.stream_id, _announcement(posted)
    if not bursts.hold(stream_id, posted.event, announcement, realtime.abroadcast_gift):
        stamped = await realtime.abroadcast_gift(stream_id, posted.event, **announcement)
        posted.event.update(combo=stamped[0]["combo"], ranking=stamped[0]["ranking"])
    return GiftResult(posted.sent, False, posted.balance, posted.event)


# ------------------------------------------------------------------ 1. validate


def _gift_validate(sender, stream_id, gift_slug, quantity, key, anonymous) -> _GiftRequest:
    """What the request says, checked without the database."""
    key = _valid_key(key)
    _valid_quantity(quantity)
    if isinstance(stream_id, bool) or not isinstance(stream_id, int | str):
        raise errors.error(errors.NOT_LIVE)
    try:
        stream_id = int(stream_id)
    except ValueError:
        raise errors.error(errors.NOT_LIVE) from None
    if not isinstance(gift_slug, str):
        raise errors.error(errors.GIFT_UNKNOWN)
    return _GiftRequest(sender, stream_id, gift_slug, quantity, key, bool(anonymous))


def _valid_key(key: str) -> str:
    try:
        return str(uuid.UUID(str(key)))
    except (ValueError, TypeError, AttributeError):
        raise errors.error(errors.BAD_KEY) from None


def _valid_quantity(quantity) -> None:
    high = settings.GIFT_MAX_QUANTITY
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= high:
        raise errors.error(errors.QUANTITY, high=high)


def _sender_check(sender, *, verified: bool) -> None:
    """Sending a gift or a chat message needs a signed-in account with a verified email
    address (DESIGN, the websocket contract)."""
    if sender is None or not sender.is_authenticated:
        raise errors.error(errors.AUTH_REQUIRED)
    if not verified:
        raise errors.error(errors.VERIFY_REQUIRED)


async def _asender_loaded(sender) -> bool:
    """Whether the sender's email address is verified, with their profile loaded for the
    room's frame: one trip to a worker thread, and none once both are known."""
    if sender is None or not sender.is_authenticated:
        return False
    if email_verified_known(user=sender) and type(sender).profile.is_cached(sender):
        return email_verified(user=sender)

    def load() -> bool:
        sender.profile  # noqa: B018 - loaded here, off the event loop
        return email_verified(user=sender)

    return await database_sync_to_async(load, thread_sensitive=False)()


# ------------------------------------------------------------------ 3. post


def _in_one_call() -> bool:
    """Whether gifts post through the gift_post database function (PostgreSQL, unless
    USE_DATABASE_FUNCTIONS is off: the tests run both paths)."""
    return connection.vendor == "postgresql" and settings.USE_DATABASE_FUNCTIONS


@dataclass(frozen=True)
class _Posted:
    replayed: bool
    balance: int
    sent_id: int
    sent: SentGift | None = None
    event: dict | None = None
    gifter_id: int = 0
    gifter_coins: int = 0


def _gift_posted_new(sent: SentGift, balance: int, gifter_id: int, gifter_coins: int) -> _Posted:
    return _Posted(False, balance, sent.pk, sent, _gift_event(sent), gifter_id, gifter_coins)


def _gift_replayed(posted: _Posted) -> GiftResult:
    """A key seen before: the first send's result; nothing moved (the money log says so,
    with no amounts)."""
    sent = SentGift.objects.select_related("gift").get(pk=posted.sent_id)
    money_log_on_commit("gift.replayed", _gift_log_fields(sent, amounts=False))
    return GiftResult(sent, True, posted.balance, {})


def _gift_log_fields(sent: SentGift, *, amounts: bool = True) -> dict:
    """A gift's money-log fields, from the SentGift in hand (no query). Its key and
    reference are the ledger transaction's, as gift_post and _gift_post_portable write them;
    the creator is the stream's (gift_post does not return the creator's id)."""
    fields = {
        "txn_id": sent.transaction_id, "kind": str(TransactionKind.GIFT),
        "key": f"gift:{sent.sender_id}:{sent.key}", "reference": f"stream:{sent.stream_id}",
    }  # fmt: skip
    if amounts:
        fields.update(coins=sent.coins, diamonds=sent.diamonds)
    fields.update(
        user_id=sent.sender_id, stream_id=sent.stream_id, sent_id=sent.pk,
        gift=sent.gift.slug, quantity=sent.quantity, anonymous=sent.anonymous,
    )  # fmt: skip
    return fields


GIFT_POST_SQL = (
    "SELECT sent_id, replayed, balance, gift_id, gift_name, gift_artwork, gift_coins, coins, "
    "diamonds, txn_id, created_at, gifter_id, gifter_coins "
    "FROM gift_post(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
GIFT_POST_REFUSALS = {
    "GL001": errors.NOT_LIVE,
    "GL002": errors.SELF_GIFT,
    "GL003": errors.GIFT_UNKNOWN,
    "GL004": errors.BANNED,
}


def _gift_post_args(request: _GiftRequest) -> tuple[str, ...]:
    """gift_post's arguments, as text (the header of livestreams/sql/gift_post.sql names them)."""
    return (
        str(request.sender.pk), str(request.stream_id), request.slug, str(request.quantity),
        request.key, "t" if request.anonymous else "f", str(settings.CREATOR_SHARE),
        str(SYSTEM_ACCOUNT_IDS[Purpose.COINS_SPENT]), str(SYSTEM_ACCOUNT_IDS[Purpose.DIAMONDS_ISSUED]),
    )  # fmt: skip


@contextlib.contextmanager
def _gift_post_refusals():
    """gift_post's refusals as the RoomError or wallet error each stands for."""
    try:
        yield
    except DatabaseError as exc:
        state = getattr(exc.__cause__, "sqlstate", None)
        if state in GIFT_POST_REFUSALS:
            raise errors.error(GIFT_POST_REFUSALS[state]) from None
        if refusal := database_refusal(exc):
            raise refusal from None
        raise


def _gift_posted(row, request: _GiftRequest) -> _Posted:
    """What a gift_post row says: a replay (the first send's id), or the new SentGift (built
    from the row, not read back) with its room frame and the sender's new running total."""
    (sent_id, replayed, balance, gift_id, name, artwork, unit_coins, coins, diamonds, txn_id,
     created_at, gifter_id, gifter_coins) = row  # fmt: skip
    if replayed == "t":
        return _Posted(True, int(balance), int(sent_id))
    gift = Gift(
        pk=int(gift_id), slug=request.slug, name=name, artwork=artwork, coins=int(unit_coins)
    )
    sent = SentGift(
        pk=int(sent_id), stream_id=request.stream_id, sender=request.sender, gift=gift,
        quantity=request.quantity, coins=int(coins), diamonds=int(diamonds), key=request.key,
        anonymous=request.anonymous, transaction_id=int(txn_id), created_at=parse_datetime(created_at),
    )  # fmt: skip
    return _gift_posted_new(sent, int(balance), int(gifter_id), int(gifter_coins))


def _gift_post_portable(request: _GiftRequest) -> _Posted:
    """gift_post in the ORM: the same checks in the same order, the same rows."""
    sender = request.sender
    with transaction.atomic(durable=True):
        stream = (
            Stream.objects.filter(pk=request.stream_id).select_related("creator__profile").first()
        )
        if stream is None or not stream.is_live:
            raise errors.error(errors.NOT_LIVE)
        if stream.creator_id == sender.pk:
            raise errors.error(errors.SELF_GIFT)
        gift = Gift.objects.filter(slug=request.slug, active=True).first()
        if gift is None:
            raise errors.error(errors.GIFT_UNKNOWN)
        ban = selectors.ban_of(creator_id=stream.creator_id, user_id=sender.pk)
        if ban is not None and ban.kind == RoomBan.Kind.BAN:
            raise errors.error(errors.BANNED)
        coins = gift.coins * request.quantity
        diamonds = _gift_diamonds(
            stream_id=stream.pk, sender_id=sender.pk, key=request.key, coins=coins
        )
        legs = [
            OwnerLeg(sender.pk, Purpose.WALLET, -coins),
            OwnerLeg(None, Purpose.COINS_SPENT, coins),
        ]
        if diamonds:
            legs += [
                OwnerLeg(None, Purpose.DIAMONDS_ISSUED, -diamonds),
                OwnerLeg(stream.creator_id, Purpose.EARNINGS, diamonds),
            ]
        posted = transfer_post(
            kind=TransactionKind.GIFT,
            idempotency_key=f"gift:{sender.pk}:{request.key}",
            legs=legs,
            reference=f"stream:{stream.pk}",
            memo=f"{gift.name} × {request.quantity} to @{stream.creator.profile.handle}",
            savepoint=False,  # a refusal fails the whole gift: no savepoint round trips
            logged=False,  # the money log hears of the gift on announce, on either path
        )
        if posted.replayed:
            first = SentGift.objects.get(sender=sender, key=request.key)
            return _Posted(True, posted.balance, first.pk)
        sent = SentGift.objects.create(
            stream=stream, sender=sender, gift=gift, quantity=request.quantity, coins=coins,
            diamonds=diamonds, key=request.key, anonymous=request.anonymous, transaction_id=posted.pk,
        )  # fmt: skip
        gifter_id, gifter_coins = _gifter_add(
            stream=stream, sender=sender, anonymous=request.anonymous, coins=coins
        )
    return _gift_posted_new(sent, posted.balance, gifter_id, gifter_coins)


# ------------------------------------------------------------------ 4. announce


def _gift_announce(posted: _Posted) -> None:
    """After commit (only committed gifts count toward a combo or reach the room): the gift,
    with the room's new ranking (the sender's new running total goes on the room's board), to
    the room; its combo and ranking are also noted on the gift's frame."""
    stream_id = posted.sent.stream_id
    announcement = {
        **_announcement(posted),
        "ranking": lambda: selectors.ranking(stream=stream_id, limit=realtime.RANKING_SIZE),
    }
    if bursts.hold(stream_id, posted.event, announcement, _abroadcast_gift):
        return  # it goes with the rest of the fan's burst (realtime.bursts)
    stamped = realtime.broadcast_gift(stream_id, posted.event, **announcement)
    posted.event.update(combo=stamped[0]["combo"], ranking=stamped[0]["ranking"])


async def _abroadcast_gift(stream_id: int, gift: dict, **announcement) -> list[dict]:
    """broadcast_gift from the event loop, for a burst held there: on a worker thread, since
    without Redis the ranking is read from the database."""
    return await database_sync_to_async(realtime.broadcast_gift, thread_sensitive=False)(
        stream_id, gift, **announcement
    )


def _announcement(posted: _Posted) -> dict:
    """What broadcast_gift is told of a committed gift, besides the room and the frame.
    Every path builds it once per committed gift, so the money log hears of the gift here."""
    sent = posted.sent
    money_log("gift.sent", {**_gift_log_fields(sent), "balance": posted.balance})
    label = selectors.ranking_label(sent.sender.profile, anonymous=sent.anonymous)
    return {
        "sender_id": sent.sender_id,
        "slug": sent.gift.slug,
        "quantity": sent.quantity,
        "anonymous": sent.anonymous,
        "gifter": realtime.Gifter(posted.gifter_id, posted.gifter_coins, label),
        "gifters": lambda: selectors.board_gifters(stream_id=sent.stream_id),
    }


def _gift_event(sent: SentGift) -> dict:
    """The room's `gift` frame for a committed send (the combo count is added on announce)."""
    gift = sent.gift
    return {
        "type": "gift",
        "id": sent.pk,
        "gift": gift.slug,
        "name": gift.name,
        "artwork": settings.STATIC_URL + gift.artwork,
        "quantity": sent.quantity,
        "coins": sent.coins,
        "big": gift.is_big,
        "sender": selectors.sender_label(sent.sender.profile, anonymous=sent.anonymous),
    }


def _gift_diamonds(*, stream_id: int, sender_id: int, key: str, coins: int) -> int:
    """What a gift earns the creator, read inside the gift's transaction as gift_post reads
    it. The fan's gifts to the stream take turns until the commit (on PostgreSQL under
    gift_post's own lock; SQLite's transactions begin IMMEDIATE, one writer at a time), so
    each reads the total the one before it left. A key seen before is priced as it first was:
    the ledger then finds the same request and replays it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"gift_post:{stream_id}:{sender_id}"],
            )
    first = SentGift.objects.filter(sender_id=sender_id, key=key).values_list("diamonds")
    if row := first.first():
        return row[0]
    gifters = StreamGifter.objects.filter(stream_id=stream_id, sender_id=sender_id)
    before = gifters.aggregate(total=Sum("coins"))["total"] or 0
    return diamonds_earned(before=before, coins=coins)


def _gifter_add(*, stream: Stream, sender, anonymous: bool, coins: int) -> tuple[int, int]:
    """Add to the sender's running total in the stream, in one UPSERT statement (inside the
    gift's transaction; PostgreSQL and SQLite both speak ON CONFLICT … DO UPDATE … RETURNING).
    Returns the row's id and new total."""
    table = StreamGifter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (stream_id, sender_id, anonymous, coins) VALUES (%s, %s, %s, %s) "  # noqa: S608 - table name from the model
            f"ON CONFLICT (stream_id, sender_id, anonymous) DO UPDATE SET coins = {table}.coins + excluded.coins "
            "RETURNING id, coins",
            [stream.pk, sender.pk, anonymous, coins],
        )
        gifter_id, total = cursor.fetchone()
    return gifter_id, total


def gifter_labels_refresh(*, profile) -> None:
    """The fan's name or ranking choice changed: their lines on live rooms' boards follow
    (rankings read from the database, at join and at the end, follow by themselves)."""
    if not realtime.boards_kept():
        return
    rows = StreamGifter.objects.filter(sender_id=profile.user_id, stream__status=StreamStatus.LIVE)
    for gifter_id, stream_id, anonymous in rows.values_list("pk", "stream_id", "anonymous"):
        label = selectors.ranking_label(profile, anonymous=anonymous)
        realtime.board_relabel(stream_id, gifter_id, label)


def stream_viewers_seen(*, stream_id: int, count: int) -> None:
    """Remember the highest viewer count for the stream's summary."""
    Stream.objects.filter(pk=stream_id, peak_viewers__lt=count).update(peak_viewers=count)


def viewers_announce(seen: dict[int, int]) -> list[int]:
    """Each room's viewer count to the room, once per interval whichever process holds it
    (realtime.viewers_changed), and the stream's peak remembered: the highest of the count
    now and the counts its joins saw since the last tick (`seen`). Returns the rooms another
    process announced this interval: they are tried again at the next tick."""
    counts = realtime.viewers_of(list(seen))
    unclaimed = []
    for stream_id, highest in seen.items():
        if not realtime.viewers_claim(stream_id):
            unclaimed.append(stream_id)
            continue
        realtime.broadcast(stream_id, {"type": "viewers", "count": counts[stream_id]})
        stream_viewers_seen(stream_id=stream_id, count=max(highest, counts[stream_id]))
    return unclaimed


def overlay_token_reset(*, stream: Stream, by) -> Stream:
    """A new secret for the OBS overlay URL; the old one stops working at once."""
    from .models import new_overlay_token

    _require_manager(stream, by)
    stream.overlay_token = new_overlay_token()
    stream.save(update_fields=["overlay_token"])
    return stream


# ----------------------------------------------------------------------------- chat


def chat_send(*, user, stream_id: int, text: str) -> ChatMessage:
    _sender_check(user, verified=email_verified(user=user))
    text = (text or "").strip()
    if not text:
        raise errors.error(errors.CHAT_EMPTY)
    if len(text) > settings.CHAT_MAX_LENGTH:
        raise errors.error(errors.CHAT_TOO_LONG, high=settings.CHAT_MAX_LENGTH)
    stream = Stream.objects.filter(pk=stream_id).first()
    if stream is None or not stream.is_live:
        raise errors.error(errors.NOT_LIVE)
    ban = selectors.ban_of(creator_id=stream.creator_id, user_id=user.pk)
    if ban is not None:
        raise errors.error(errors.BANNED if ban.kind == RoomBan.Kind.BAN else errors.MUTED)
    if realtime.rate_limited("chat", user.pk, settings.CHAT_RATE_LIMIT):
        raise errors.error(errors.RATE_LIMITED)
    with transaction.atomic(durable=True):
        message = ChatMessage.objects.create(stream=stream, user=user, text=text)
        realtime.broadcast_on_commit(stream.pk, selectors.chat_event(message))
    return message


# ----------------------------------------------------------------------------- moderation


def room_ban(*, stream: Stream, user, by, kind: str = RoomBan.Kind.BAN) -> RoomBan:
    """The creator (or staff) bans or mutes a viewer in all of the creator's rooms."""
    _require_manager(stream, by)
    if user.pk == stream.creator_id:
        raise errors.RoomError(
            "The creator can't be banned from their own room.", code="bad_target"
        )
    with transaction.atomic(durable=True):
        ban, _ = RoomBan.objects.update_or_create(
            creator_id=stream.creator_id, user=user, defaults={"kind": kind, "created_by": by}
        )
        realtime.broadcast_on_commit(
            stream.pk,
            {"type": "moderation", "action": kind, "user": {"handle": user.profile.handle}},
        )
    return ban


def room_unban(*, stream: Stream, user, by) -> None:
    """Lift a ban or mute; the room hears of it (as of a ban) once it is committed."""
    _require_manager(stream, by)
    with transaction.atomic(durable=True):
        deleted, _ = RoomBan.objects.filter(creator_id=stream.creator_id, user=user).delete()
        if deleted:
            realtime.broadcast_on_commit(
                stream.pk,
                {"type": "moderation", "action": "unban", "user": {"handle": user.profile.handle}},
            )


def room_moderate(*, stream_id: int, handle: str, action: str, by) -> None:
    """Ban, mute or unban the viewer with `handle` in the stream creator's rooms."""
    from accounts.models import Profile

    stream = Stream.objects.filter(pk=stream_id).first()
    profile = (
        Profile.objects.select_related("user").filter(handle=handle.lower().lstrip("@")).first()
    )
    if stream is None or profile is None:
        raise errors.RoomError("No such viewer.", code="not_found")
    if action == "unban":
        room_unban(stream=stream, user=profile.user, by=by)
    else:
        room_ban(stream=stream, user=profile.user, by=by, kind=action)
