"""Spending limits a fan sets on their own recharges (DESIGN §3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from . import exceptions as errors
from .models import LimitKind, Recharge, RechargeStatus, SpendingLimit
from .money import format_money

RAISE_DELAY = dt.timedelta(hours=24)
WINDOWS = {LimitKind.DAILY: dt.timedelta(hours=24), LimitKind.MONTHLY: dt.timedelta(days=30)}
# Open checkouts count against the caps until they expire, so several tabs can't overrun them.
COUNTED = Q(status=RechargeStatus.PAID) | Q(status=RechargeStatus.PENDING)


@dataclass(frozen=True)
class LimitState:
    kind: str
    currency: str
    amount_minor: int | None
    pending_amount_minor: int | None
    pending_from: dt.datetime | None
    spent_minor: int | None

    @property
    def label(self) -> str:
        return LimitKind(self.kind).label

    @property
    def has_pending(self) -> bool:
        return self.pending_from is not None

    @property
    def room_minor(self) -> int | None:
        if self.amount_minor is None:
            return None
        return max(0, self.amount_minor - (self.spent_minor or 0))


def _spent(*, user, currency: str, since: dt.datetime) -> int:
    return (
        Recharge.objects.filter(
            COUNTED, user=user, currency=currency, created_at__gte=since
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )


def limits_for(*, user, currency: str) -> dict[str, LimitState]:
    now = timezone.now()
    rows = {row.kind: row for row in SpendingLimit.objects.filter(user=user)}
    states = {}
    for kind in LimitKind:
        row = rows.get(kind)
        amount = row.effective_amount(now) if row and row.currency == currency else None
        pending = row.pending_from if row and row.pending_from and row.pending_from > now else None
        spent = (
            _spent(user=user, currency=currency, since=now - WINDOWS[kind])
            if kind in WINDOWS
            else None
        )
        states[kind] = LimitState(
            kind=kind, currency=currency, amount_minor=amount,
            pending_amount_minor=row.pending_amount_minor if pending else None,
            pending_from=pending, spent_minor=spent,
        )  # fmt: skip
    return states


def limit_set(*, user, kind: str, currency: str, amount_minor: int | None) -> SpendingLimit:
    """Set one limit (None removes it). Lower: at once. Higher or removed: after 24 hours."""
    if amount_minor is not None and amount_minor <= 0:
        raise errors.WalletError("A limit must be more than zero; leave it empty for no limit.")
    now = timezone.now()
    with transaction.atomic(durable=True):
        row, _ = SpendingLimit.objects.select_for_update().get_or_create(
            user=user, kind=kind, defaults={"currency": currency}
        )
        current = row.effective_amount(now) if row.currency == currency else None
        lowering = amount_minor is not None and (current is None or amount_minor <= current)
        row.currency = currency
        if lowering:
            row.amount_minor, row.pending_amount_minor, row.pending_from = amount_minor, None, None
        else:
            row.amount_minor = current
            row.pending_amount_minor, row.pending_from = amount_minor, now + RAISE_DELAY
        row.save()
        return row


def limits_check(*, user, currency: str, amount_minor: int, locale: str = "en_US") -> None:
    """Refuse a recharge over any limit, saying how much room is left."""
    # Lock the fan's limits so two checkouts opened at once can't both squeeze under a cap.
    list(SpendingLimit.objects.select_for_update().filter(user=user))
    states = limits_for(user=user, currency=currency)

    def fmt(minor: int) -> str:
        return format_money(minor, currency, locale)

    per = states[LimitKind.PER_RECHARGE]
    if per.amount_minor is not None and amount_minor > per.amount_minor:
        raise errors.RechargeError(
            f"{fmt(amount_minor)} is over your limit of {fmt(per.amount_minor)} per recharge."
        )
    for kind, label in ((LimitKind.DAILY, "24 hours"), (LimitKind.MONTHLY, "30 days")):
        state = states[kind]
        if state.amount_minor is not None and amount_minor > state.room_minor:
            raise errors.RechargeError(
                f"{fmt(amount_minor)} would pass your limit of {fmt(state.amount_minor)} per {label}: "
                f"you can recharge up to {fmt(state.room_minor)} more now."
            )
