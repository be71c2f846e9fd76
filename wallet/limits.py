"""Spending limits a fan sets on their own recharges (DESIGN §3).

A limit stays in the currency the fan set it in. When they pay in another (they changed
country), the price table converts: the same coin package's price in each currency is the
rate. A limit, and the room left under it, reads at the package that makes it smallest,
rounded down; money spent counts at the package that makes it largest, rounded up. So a
change of currency never gives a fan more room than they set, and the room shown in their
currency is exactly the largest recharge that passes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from . import exceptions as errors
from .models import LimitKind, Price, Recharge, RechargeStatus, SpendingLimit
from .money import format_money

RAISE_DELAY = dt.timedelta(hours=24)
WINDOWS = {LimitKind.DAILY: dt.timedelta(hours=24), LimitKind.MONTHLY: dt.timedelta(days=30)}
# Open checkouts count against the caps until they expire, so several tabs can't overrun them.
COUNTED = Q(status=RechargeStatus.PAID) | Q(status=RechargeStatus.PENDING)


@dataclass(frozen=True)
class Rates:
    """The active catalogue's prices, {currency: {package id: amount_minor}}, as a converter.

    Only packages priced in both currencies convert; with none in common a limit reads as 0
    and spending as unmeasurable, so a limit holds rather than lapses."""

    prices: dict[str, dict[int, int]]

    @classmethod
    def load(cls, currencies: set[str]) -> Rates:
        prices: dict[str, dict[int, int]] = {code: {} for code in currencies}
        if len(currencies) > 1:
            rows = Price.objects.filter(currency__in=currencies, package__active=True)
            for code, package, amount in rows.values_list("currency", "package", "amount_minor"):
                prices[code][package] = amount
        return cls(prices)

    def _pairs(self, source: str, target: str) -> list[tuple[int, int]]:
        have, want = self.prices.get(source, {}), self.prices.get(target, {})
        return [(have[package], want[package]) for package in have.keys() & want.keys()]

    def limit(self, amount: int, source: str, target: str) -> int:
        """A limit (or the room under one) in `target`: the smallest reading, rounded down."""
        if source == target:
            return amount
        return min((amount * want // have for have, want in self._pairs(source, target)), default=0)

    def spending(self, amount: int, source: str, target: str) -> int | None:
        """Money spent, as it counts against a limit in `target`: the largest reading,
        rounded up; None if the price table cannot convert it."""
        if source == target:
            return amount
        pairs = self._pairs(source, target)
        return max(-(-amount * want // have) for have, want in pairs) if pairs else None


@dataclass(frozen=True)
class LimitState:
    """One limit as it applies to a recharge in `currency`: amounts converted to it, and the
    currency and amount the fan set it as (`set_*`, `pending_set_*`)."""

    kind: str
    currency: str
    amount_minor: int | None
    room_minor: int | None
    pending_amount_minor: int | None
    pending_from: dt.datetime | None
    set_currency: str
    set_amount_minor: int | None
    pending_set_currency: str
    pending_set_amount_minor: int | None

    @property
    def label(self) -> str:
        return LimitKind(self.kind).label

    @property
    def has_pending(self) -> bool:
        return self.pending_from is not None

    @property
    def converted(self) -> bool:
        return self.amount_minor is not None and self.set_currency != self.currency

    @property
    def pending_converted(self) -> bool:
        return self.pending_amount_minor is not None and self.pending_set_currency != self.currency


def _spent(*, user, now: dt.datetime) -> dict[str, dict[str, int]]:
    """What counts against each rolling window, per currency: every currency the fan has
    recharged in, not only the one they pay in now."""
    sums = {
        kind.value: Sum("amount_minor", filter=Q(created_at__gte=now - window))
        for kind, window in WINDOWS.items()
    }
    rows = (
        Recharge.objects.filter(COUNTED, user=user, created_at__gte=now - max(WINDOWS.values()))
        .values("currency")
        .annotate(**sums)
        .order_by()
    )
    return {
        kind: {row["currency"]: row[kind.value] for row in rows if row[kind.value]}
        for kind in WINDOWS
    }


def _room(limit_minor: int, currency: str, spent: dict[str, int], rates: Rates) -> int:
    """What is left under a limit, in its own currency (nothing if some spending can't be
    measured in it)."""
    counted = [rates.spending(amount, source, currency) for source, amount in spent.items()]
    if None in counted:
        return 0
    return max(0, limit_minor - sum(counted))


def limits_for(*, user, currency: str) -> dict[str, LimitState]:
    """The fan's limits as they apply to a recharge in `currency` now."""
    now = timezone.now()
    rows = {row.kind: row for row in SpendingLimit.objects.filter(user=user)}
    # No limits, nothing to count against (the recharge path of most fans).
    spent = _spent(user=user, now=now) if rows else {kind: {} for kind in WINDOWS}
    rates = Rates.load(
        {currency}
        | {code for row in rows.values() for code in (row.currency, row.pending_currency) if code}
        | {code for by_currency in spent.values() for code in by_currency}
    )
    states = {}
    for kind in LimitKind:
        row = rows.get(kind)
        set_currency, set_amount = row.in_force(now) if row else (currency, None)
        amount = room = None
        if set_amount is not None:
            amount = rates.limit(set_amount, set_currency, currency)
            if kind in WINDOWS:
                room_set = _room(set_amount, set_currency, spent[kind], rates)
                room = rates.limit(room_set, set_currency, currency)
        pending = row.pending_from if row and row.pending_from and row.pending_from > now else None
        pending_set = row.pending_amount_minor if pending else None
        states[kind] = LimitState(
            kind=kind, currency=currency, amount_minor=amount, room_minor=room,
            pending_amount_minor=(
                rates.limit(pending_set, row.pending_currency, currency)
                if pending_set is not None else None
            ),
            pending_from=pending, set_currency=set_currency, set_amount_minor=set_amount,
            pending_set_currency=row.pending_currency if pending else currency,
            pending_set_amount_minor=pending_set,
        )  # fmt: skip
    return states


def limit_set(*, user, kind: str, currency: str, amount_minor: int | None) -> SpendingLimit:
    """Set one limit (None removes it) in `currency`. Lower than the limit in force, read in
    `currency`: at once. Higher or removed: after 24 hours, the limit in force holding (in
    its own currency) until then."""
    if amount_minor is not None and amount_minor <= 0:
        raise errors.WalletError("A limit must be more than zero; leave it empty for no limit.")
    now = timezone.now()
    with transaction.atomic(durable=True):
        row, _ = SpendingLimit.objects.select_for_update().get_or_create(
            user=user, kind=kind, defaults={"currency": currency}
        )
        held_currency, held = row.in_force(now)
        current = held
        if held is not None and held_currency != currency:
            current = Rates.load({held_currency, currency}).limit(held, held_currency, currency)
        if current is None or (amount_minor is not None and amount_minor <= current):
            row.currency, row.amount_minor = currency, amount_minor
            row.pending_currency, row.pending_amount_minor, row.pending_from = "", None, None
        else:
            row.currency, row.amount_minor = held_currency, held
            row.pending_currency, row.pending_amount_minor = currency, amount_minor
            row.pending_from = now + RAISE_DELAY
        row.save()
        return row


def limits_check(*, user, currency: str, amount_minor: int, locale: str = "en_US") -> None:
    """Refuse a recharge over any limit, saying how much room is left."""
    # Lock the fan's limits so two checkouts opened at once can't both squeeze under a cap.
    list(SpendingLimit.objects.select_for_update().filter(user=user))
    states = limits_for(user=user, currency=currency)

    def fmt(minor: int) -> str:
        return format_money(minor, currency, locale)

    def limit_words(state: LimitState) -> str:
        if not state.converted:
            return fmt(state.amount_minor)
        as_set = format_money(state.set_amount_minor, state.set_currency, locale)
        return f"{fmt(state.amount_minor)} ({as_set} at our prices)"

    per = states[LimitKind.PER_RECHARGE]
    if per.amount_minor is not None and amount_minor > per.amount_minor:
        raise errors.RechargeError(
            f"{fmt(amount_minor)} is over your limit of {limit_words(per)} per recharge."
        )
    for kind, label in ((LimitKind.DAILY, "24 hours"), (LimitKind.MONTHLY, "30 days")):
        state = states[kind]
        if state.amount_minor is not None and amount_minor > state.room_minor:
            raise errors.RechargeError(
                f"{fmt(amount_minor)} would pass your limit of {limit_words(state)} per {label}: "
                f"you can recharge up to {fmt(state.room_minor)} more now."
            )
