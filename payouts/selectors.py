"""Reads of payouts: a creator's earnings from the ledger and the gift records, payout
quotes, history, and what staff need to judge a payout.

Every figure is computed from the ledger's entries or the SentGift rows, never from a
counter of its own: there is nothing that can drift.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.countries import DEFAULT_CURRENCY
from accounts.models import Profile
from accounts.selectors import creator_eligibility
from livestreams.models import Gift, SentGift, Stream
from wallet.ledger import derived_balance
from wallet.models import Account, Entry, Purpose, Recharge, RechargeStatus, TransactionKind
from wallet.money import locale_for_country, minor_exponent

from .models import (
    CAPPED_STATUSES,
    TALLIES,
    DayTally,
    ExchangeRate,
    FanTally,
    GiftReversal,
    GiftTally,
    Payout,
    PayoutMethod,
    PayoutStatus,
    PayoutTerms,
    TallyMark,
)

# ----------------------------------------------------------------------------- arithmetic


def cents_per_diamond() -> Fraction:
    """What one diamond is worth in US cents, exactly (0.005 USD → 1/2)."""
    return Fraction(str(settings.DIAMOND_VALUE_USD)) * 100


@dataclass(frozen=True)
class Quote:
    """What a request for `asked` diamonds pays: the diamonds worth a whole number of cents
    move, and the rest (`leftover`) stays in the balance for the next payout."""

    asked: int
    diamonds: int
    cents: int

    @property
    def leftover(self) -> int:
        return self.asked - self.diamonds


def payout_quote(diamonds: int) -> Quote:
    rate = cents_per_diamond()
    # n diamonds are a whole number of cents exactly when n is a multiple of the rate's
    # denominator (2 at $0.005): round the diamonds down to that, never the cents.
    step = rate.denominator
    moved = diamonds // step * step
    return Quote(asked=diamonds, diamonds=moved, cents=int(moved * rate))


def diamonds_for_cents(cents: int) -> int:
    """The fewest diamonds, in whole-cent steps, worth at least `cents`."""
    rate = cents_per_diamond()
    step = rate.denominator
    return math.ceil(Fraction(cents) / rate / step) * step


def usd_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_FLOOR))


def minimum_cents(*, creator) -> int:
    """PAYOUT_MINIMUM_USD in cents, or staff's lower minimum for this creator."""
    terms = PayoutTerms.objects.filter(creator=creator).only("minimum_usd").first()
    return usd_cents(terms.minimum_usd if terms else settings.PAYOUT_MINIMUM_USD)


def daily_cap_cents() -> int:
    return usd_cents(settings.PAYOUT_MAX_PER_DAY_USD)


def requested_last_day_cents(*, creator, now: dt.datetime | None = None) -> int:
    """Cents requested in the rolling 24 hours (payouts given back don't count)."""
    since = (now or timezone.now()) - dt.timedelta(hours=24)
    total = Payout.objects.filter(
        creator=creator, status__in=CAPPED_STATUSES, created_at__gt=since
    ).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


# ----------------------------------------------------------------------------- cash values


@dataclass(frozen=True)
class CashView:
    """How a creator sees cash: in their currency at staff's rate, else in USD."""

    currency: str
    locale: str
    per_usd: Decimal

    def minor(self, diamonds: int) -> int:
        """What `diamonds` are worth in this currency's minor units (rounded down)."""
        usd = Decimal(diamonds) * settings.DIAMOND_VALUE_USD * self.per_usd
        return int(usd.scaleb(minor_exponent(self.currency)).to_integral_value(ROUND_FLOOR))

    @property
    def is_estimate(self) -> bool:
        return self.currency != DEFAULT_CURRENCY


def cash_view(*, user) -> CashView:
    profile = user.profile
    currency = profile.preferred_currency
    locale = locale_for_country(profile.country)
    if currency != DEFAULT_CURRENCY:
        rate = ExchangeRate.objects.filter(currency=currency).only("per_usd").first()
        if rate is not None:
            return CashView(currency, locale, rate.per_usd)
    return CashView(DEFAULT_CURRENCY, locale, Decimal(1))


# ----------------------------------------------------------------------------- earnings


def creator_gifts(*, creator) -> QuerySet[SentGift]:
    return SentGift.objects.filter(stream__creator=creator)


def _not_reversed() -> Exists:
    # NOT EXISTS plans as an anti-join; a LEFT JOIN … IS NULL was estimated at a handful
    # of rows and spilled sorts to disk (bench/dashboard.py).
    return ~Exists(GiftReversal.objects.filter(sent_gift_id=OuterRef("pk")))


def counted_gifts(*, creator) -> QuerySet[SentGift]:
    """The creator's gifts that still count: every one not reversed by a chargeback."""
    return creator_gifts(creator=creator).filter(_not_reversed())


def clearing_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    """Gifts sent after this are still clearing."""
    return (now or timezone.now()) - dt.timedelta(days=settings.PAYOUT_CLEARING_DAYS)


@dataclass(frozen=True)
class Batch:
    available_on: dt.date
    diamonds: int


@dataclass(frozen=True)
class Earnings:
    available: int
    clearing: int
    held: int
    lifetime_earned: int
    lifetime_paid: int
    batches: list[Batch] = field(default_factory=list)


def earnings_summary(*, creator, now: dt.datetime | None = None) -> Earnings:
    """The headline figures, from the ledger (balances) and the gift records (clearing).

    `earned` is everything that reached the creator's diamonds (their earnings balance,
    plus what is held for payouts, plus what has been paid out); `available` is the
    earnings balance less the diamonds of gifts still clearing.
    """
    now = now or timezone.now()
    accounts = {
        account.purpose: account
        for account in Account.objects.filter(
            owner=creator, purpose__in=[Purpose.EARNINGS, Purpose.PAYOUT_HOLD]
        )
    }
    earnings = accounts.get(Purpose.EARNINGS)
    hold = accounts.get(Purpose.PAYOUT_HOLD)
    balance = derived_balance(earnings) if earnings else 0
    held = derived_balance(hold) if hold else 0
    paid = 0
    if hold:
        paid = -(
            Entry.objects.filter(
                account=hold, transaction__kind=TransactionKind.PAYOUT_PAID
            ).aggregate(total=Sum("amount"))["total"]
            or 0
        )
    days = settings.PAYOUT_CLEARING_DAYS
    cutoff = clearing_cutoff(now)
    # A gift is sent while its stream is live: only streams still live or ended after the
    # cutoff can hold gifts still clearing, so the query reads those streams' gifts alone.
    recent = Stream.objects.filter(creator=creator).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=cutoff)
    )
    rows = (
        counted_gifts(creator=creator)
        .filter(stream__in=recent.values("pk"), created_at__gt=cutoff, diamonds__gt=0)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(diamonds=Sum("diamonds"))
        .order_by("day")
    )
    batches = [Batch(row["day"] + dt.timedelta(days=days), row["diamonds"]) for row in rows]
    clearing = sum(batch.diamonds for batch in batches)
    return Earnings(
        available=max(0, balance - clearing),
        clearing=clearing,
        held=held,
        lifetime_earned=balance + held + paid,
        lifetime_paid=paid,
        batches=batches,
    )


# ----------------------------------------------------------------------------- tallies


@dataclass(frozen=True)
class TallyRow:
    """Gifts of one fan to one stream on one day (UTC), anonymous sends apart: the grain of
    GiftTally. Signed: a reversal's row counts against the tally its gift went into."""

    creator_id: int
    day: dt.date
    stream_id: int
    sender_id: int
    anonymous: bool
    gifts: int
    coins: int
    diamonds: int


def tally_sums(rows, names: tuple[str, ...]) -> dict[tuple, list[int]]:
    """`rows` summed by the fields `names`: key → [gifts, coins, diamonds]."""
    sums: dict[tuple, list[int]] = {}
    for row in rows:
        total = sums.setdefault(tuple(getattr(row, name) for name in names), [0, 0, 0])
        total[0] += row.gifts
        total[1] += row.coins
        total[2] += row.diamonds
    return sums


def tally_rows(gifts: QuerySet[SentGift], *, sign: int = 1) -> list[TallyRow]:
    """`gifts` summed at GiftTally's grain (one query)."""
    rows = (
        gifts.order_by()
        .values("stream_id", "sender_id", "anonymous")
        .annotate(
            creator=F("stream__creator_id"),
            day=TruncDate("created_at", tzinfo=dt.UTC),
            n=Sum("quantity"),
            c=Sum("coins"),
            d=Sum("diamonds"),
        )
        .values_list("creator", "day", "stream_id", "sender_id", "anonymous", "n", "c", "d")
    )
    return [
        TallyRow(creator, day, stream, sender, anonymous, sign * n, sign * c, sign * d)
        for creator, day, stream, sender, anonymous, n, c, d in rows
    ]


def tally_mark() -> TallyMark:
    return TallyMark.objects.filter(pk=1).first() or TallyMark(pk=1)


@dataclass(frozen=True)
class GiftRecords:
    """A creator's gift records as the dashboard reads them: the tallies through the mark,
    and `tail`, what came after it (gifts sent since, less gifts reversed since) summed at
    the tallies' grain. Tallies plus tail equal the SentGift rows less their reversals,
    exactly, whenever the roll-up last ran."""

    creator: object
    mark: TallyMark
    tail: list[TallyRow]

    def tail_by(
        self, grain: tuple[str, ...], *, since: dt.date | None = None
    ) -> dict[tuple, list[int]]:
        """The tail (from day `since`) summed by `grain`: key → [gifts, coins, diamonds]."""
        rows = [row for row in self.tail if since is None or row.day >= since]
        return tally_sums(rows, grain)


@contextmanager
def one_snapshot():
    """The reads inside see one snapshot of the database: the tallies, their mark and the
    tail are read in several statements, and a roll-up committing between them would count
    its rows twice. PostgreSQL: a REPEATABLE READ transaction (inside a transaction
    already, the caller's; SQLite's read transaction is a snapshot already)."""
    with transaction.atomic():
        if connection.vendor == "postgresql" and not _outer_atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _outer_atomic() -> bool:
    return len(connection.atomic_blocks) > 1


def gift_records(*, creator) -> GiftRecords:
    """Three queries, whatever the history: the mark, the gifts after it, the reversals
    after it (of gifts already in the tallies)."""
    mark = tally_mark()
    gifts = creator_gifts(creator=creator)
    added = tally_rows(gifts.filter(pk__gt=mark.gifts_through).filter(_not_reversed()))
    taken = tally_rows(
        gifts.filter(pk__lte=mark.gifts_through, reversal__pk__gt=mark.reversals_through),
        sign=-1,
    )
    return GiftRecords(creator, mark, added + taken)


@dataclass(frozen=True)
class Day:
    day: dt.date
    diamonds: int


@dataclass(frozen=True)
class DailyEarnings:
    days: list[Day]
    total: int
    previous_total: int

    @property
    def peak(self) -> int:
        return max((d.diamonds for d in self.days), default=0)


def utc_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(dt.UTC).date()


def daily_earnings(
    *, records: GiftRecords, days: int = 30, now: dt.datetime | None = None
) -> DailyEarnings:
    """Diamonds earned per day (UTC) for the last `days` days, today included, and the
    total of the `days` before them."""
    today = utc_today(now)
    first = today - dt.timedelta(days=2 * days - 1)
    by_day = dict(
        DayTally.objects.filter(creator=records.creator, day__gte=first).values_list(
            "day", "diamonds"
        )
    )
    for (day,), (_, _, diamonds) in records.tail_by(("day",)).items():
        if day >= first:
            by_day[day] = by_day.get(day, 0) + diamonds
    window = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    current = [Day(day, by_day.get(day, 0)) for day in window]
    previous = sum(v for day, v in by_day.items() if day < window[0])
    return DailyEarnings(current, sum(d.diamonds for d in current), previous)


def stream_history(*, creator) -> QuerySet[Stream]:
    """The creator's streams, newest first (figures: `stream_figures`, per page)."""
    return (
        Stream.objects.filter(creator=creator)
        .annotate(
            duration=ExpressionWrapper(
                F("ended_at") - F("started_at"), output_field=DurationField()
            )
        )
        .order_by("-started_at", "-pk")
    )


def stream_figures(*, records: GiftRecords, streams: list[Stream]) -> None:
    """Set `gift_count`, `gifter_count` and `diamonds` on each of `streams` (one page)."""
    ids = [stream.pk for stream in streams]
    tallies = GiftTally.objects.filter(creator=records.creator, stream_id__in=ids)
    figures = {
        row["stream_id"]: row
        for row in tallies.values("stream_id").annotate(
            n=Sum("gifts"),
            d=Sum("diamonds"),
            g=Count("sender_id", distinct=True, filter=Q(gifts__gt=0)),
        )
    }
    tail = {
        key: v for key, v in records.tail_by(("stream_id", "sender_id")).items() if key[0] in ids
    }
    touched = {stream_id for stream_id, _ in tail}
    gifters: dict[int, dict[int, int]] = {}
    if touched:
        # Distinct gifters cannot be added up: the tallied fans of the streams the tail
        # touches, merged with the tail's.
        for stream_id, sender_id, n in (
            tallies.filter(stream_id__in=touched)
            .values("stream_id", "sender_id")
            .annotate(n=Sum("gifts"))
            .values_list("stream_id", "sender_id", "n")
        ):
            gifters.setdefault(stream_id, {})[sender_id] = n
        for (stream_id, sender_id), (n, _, _) in tail.items():
            fans = gifters.setdefault(stream_id, {})
            fans[sender_id] = fans.get(sender_id, 0) + n
    for stream in streams:
        row = figures.get(stream.pk, {})
        stream.gift_count = row.get("n") or 0
        stream.diamonds = row.get("d") or 0
        stream.gifter_count = row.get("g") or 0
        if stream.pk in touched:
            for (stream_id, _), (n, _, d) in tail.items():
                if stream_id == stream.pk:
                    stream.gift_count += n
                    stream.diamonds += d
            stream.gifter_count = sum(1 for n in gifters[stream.pk].values() if n > 0)


@dataclass(frozen=True)
class Supporter:
    name: str
    handle: str | None
    coins: int
    diamonds: int

    @property
    def anonymous(self) -> bool:
        return self.handle is None


ANONYMOUS = "Anonymous"


def top_supporters(
    *, records: GiftRecords, days: int | None = None, limit: int = 5, now=None
) -> list[Supporter]:
    """Fans by coins gifted to the creator, in all or in the last `days` days (UTC, today
    included). Anonymous gifts, and fans who opted out of rankings, show as "Anonymous"
    (an anonymous gift is never added to the fan's named line)."""
    if days is None:
        tallies = FanTally.objects.filter(creator=records.creator).values(
            "sender_id", "anonymous", "coins", "diamonds"
        )
        tail = records.tail_by(("sender_id", "anonymous"))
    else:
        since = utc_today(now) - dt.timedelta(days=days - 1)
        tallies = (
            GiftTally.objects.filter(creator=records.creator, day__gte=since)
            .values("sender_id", "anonymous")
            .annotate(coins=Sum("coins"), diamonds=Sum("diamonds"))
        )
        tail = records.tail_by(("sender_id", "anonymous"), since=since)
    # Fans the tail doesn't touch rank by their tallies alone: the top `limit` of those,
    # and every tallied line of the tail's fans, which the tail then adds to.
    totals: dict[tuple, list[int]] = {}
    senders = {sender for sender, _ in tail}
    rows = list(
        tallies.exclude(sender_id__in=senders).order_by("-coins", "sender_id", "anonymous")[:limit]
    )
    if senders:
        rows += tallies.filter(sender_id__in=senders)
    for row in rows:
        totals[(row["sender_id"], row["anonymous"])] = [row["coins"], row["diamonds"]]
    for key, (_, coins, diamonds) in tail.items():
        total = totals.setdefault(key, [0, 0])
        total[0] += coins
        total[1] += diamonds
    ranked = sorted(
        ((key, v) for key, v in totals.items() if v[0] > 0), key=lambda kv: (-kv[1][0], kv[0])
    )[:limit]
    profiles = Profile.objects.in_bulk([sender for (sender, _), _ in ranked], field_name="user_id")
    supporters = []
    for (sender, anonymous), (coins, diamonds) in ranked:
        profile = profiles.get(sender)
        if anonymous or profile is None or profile.hide_from_rankings:
            supporters.append(Supporter(ANONYMOUS, None, coins, diamonds))
        else:
            supporters.append(Supporter(profile.name, profile.handle, coins, diamonds))
    return supporters


class GiftStatus:
    CLEARING = "clearing"
    AVAILABLE = "available"
    PAID_OUT = "paid out"
    REVERSED = "reversed"


def earnings_rows(*, creator, now: dt.datetime | None = None) -> Iterator[tuple]:
    """One row per gift, oldest first, for the CSV: time (UTC, ISO 8601), stream, gift,
    quantity, fan, coins, diamonds, status. Streamed from the database in chunks.

    Payouts are counted against the oldest gifts first: a gift is "paid out" while the
    diamonds of it and every older gift are covered by what has been paid out.
    """
    summary = earnings_summary(creator=creator, now=now)
    cutoff = clearing_cutoff(now)
    rows = (
        creator_gifts(creator=creator)
        .order_by("created_at", "pk")
        .values_list(
            "created_at",
            "stream_id",
            "stream__title",
            "gift__name",
            "quantity",
            "anonymous",
            "sender__profile__handle",
            "sender__profile__hide_from_rankings",
            "coins",
            "diamonds",
            "reversal__id",
        )
    )
    paid_left = summary.lifetime_paid
    for (
        at,
        stream_id,
        title,
        gift,
        quantity,
        anonymous,
        handle,
        hidden,
        coins,
        diamonds,
        reversal,
    ) in rows.iterator(chunk_size=2000):
        if reversal is not None:
            status = GiftStatus.REVERSED
        elif at > cutoff:
            status = GiftStatus.CLEARING
        elif diamonds <= paid_left:
            status = GiftStatus.PAID_OUT
            paid_left -= diamonds
        else:
            status = GiftStatus.AVAILABLE
            paid_left = 0
        fan = ANONYMOUS if anonymous or hidden else f"@{handle}"
        yield (
            at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            f"#{stream_id} {title}",
            gift,
            quantity,
            fan,
            coins,
            diamonds,
            status,
        )


def lion_example() -> tuple[Gift | None, int]:
    """The dearest gift of the catalogue and what one earns a creator, for the page that
    spells out the arithmetic."""
    gift = Gift.objects.filter(active=True).order_by("-coins").first()
    if gift is None:
        return None, 0
    share = Decimal(gift.coins) * settings.CREATOR_SHARE
    return gift, int(share.to_integral_value(rounding=ROUND_FLOOR))


# ----------------------------------------------------------------------------- payouts


def payout_history(*, creator) -> QuerySet[Payout]:
    return Payout.objects.filter(creator=creator).select_related("method")


def payout_get(*, creator, pk: int) -> Payout | None:
    return payout_history(creator=creator).filter(pk=pk).first()


def active_method(*, creator) -> PayoutMethod | None:
    return PayoutMethod.objects.filter(creator=creator, active=True).first()


def is_creator(*, user) -> bool:
    return creator_eligibility(user=user).eligible


@dataclass(frozen=True)
class RiskFlag:
    code: str
    label: str


RISK_WINDOW = dt.timedelta(days=30)
METHOD_CHANGE_WINDOW = dt.timedelta(hours=72)


def risk_flags(*, payout: Payout, now: dt.datetime | None = None) -> list[RiskFlag]:
    """What a staff member should look at twice before paying."""
    now = now or timezone.now()
    creator = payout.creator
    flags = []
    if Account.objects.filter(owner=creator, frozen=True).exists():
        flags.append(RiskFlag("frozen", "Wallet frozen"))
    senders = creator_gifts(creator=creator).values("sender_id")
    if Recharge.objects.filter(
        user_id__in=senders,
        status__in=[RechargeStatus.DISPUTED, RechargeStatus.REFUNDED],
        updated_at__gte=now - RISK_WINDOW,
    ).exists():
        flags.append(RiskFlag("disputes", "Refunds or disputes by this creator's fans (30 days)"))
    if creator.date_joined > now - RISK_WINDOW:
        flags.append(RiskFlag("new_account", "Account younger than 30 days"))
    latest_method = PayoutMethod.objects.filter(creator=creator).aggregate(at=Max("created_at"))[
        "at"
    ]
    if latest_method and latest_method > now - METHOD_CHANGE_WINDOW:
        flags.append(RiskFlag("method_changed", "Payout method set or changed in the last 72 h"))
    by_fan = (
        creator_gifts(creator=creator)
        .values("sender_id")
        .annotate(diamonds=Sum("diamonds"))
        .order_by("-diamonds")
    )
    total = creator_gifts(creator=creator).aggregate(total=Sum("diamonds"))["total"] or 0
    top = by_fan.first()
    if total and top and top["diamonds"] * 2 > total:
        flags.append(RiskFlag("one_fan", "More than half the earnings from one fan"))
    return flags


def payouts_with_status(*statuses: PayoutStatus) -> QuerySet[Payout]:
    return Payout.objects.filter(status__in=statuses).select_related("creator__profile", "method")


def tally_problems() -> list[str]:
    """Every tally recomputed from the gift records through the mark: the differences (an
    empty list when the tallies hold exactly the SentGift rows less their reversals)."""
    with one_snapshot():
        return _tally_problems()


def _tally_problems() -> list[str]:
    mark = tally_mark()
    rows = tally_rows(SentGift.objects.filter(pk__lte=mark.gifts_through)) + tally_rows(
        SentGift.objects.filter(reversal__pk__lte=mark.reversals_through), sign=-1
    )
    problems = []
    for model in TALLIES:
        grain = model.GRAIN
        expected = tally_sums(rows, ("creator_id", *grain))
        stored = {
            (creator, *key): [gifts, coins, diamonds]
            for creator, *key, gifts, coins, diamonds in model.objects.values_list(
                "creator_id", *grain, "gifts", "coins", "diamonds"
            )
        }
        for key in sorted(expected.keys() | stored.keys(), key=repr):
            want, have = expected.get(key, [0, 0, 0]), stored.get(key, [0, 0, 0])
            if want != have:
                problems.append(f"{model.__name__} {key}: {have}, the gift records say {want}")
    return problems
