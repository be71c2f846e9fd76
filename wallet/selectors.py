"""Reads of the wallet: balances, packages and prices, coin value, history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.countries import DEFAULT_CURRENCY

from . import exceptions as errors
from .models import (
    Account,
    CoinPackage,
    Entry,
    Price,
    Purpose,
    Recharge,
    RechargeStatus,
    TransactionKind,
)
from .money import format_rate, locale_for_country


def coin_balance(*, user) -> int:
    account = Account.objects.filter(owner=user, purpose=Purpose.WALLET).only("balance").first()
    return account.balance if account else 0


def has_earnings(*, user) -> bool:
    """Whether `user` has ever earned diamonds (their earnings live on the creator pages)."""
    return Account.objects.filter(owner=user, purpose=Purpose.EARNINGS).exists()


def wallet_is_frozen(*, user) -> bool:
    return Account.objects.filter(owner=user, purpose=Purpose.WALLET, frozen=True).exists()


def pricing_currency(*, user) -> str:
    """The currency a fan pays in: their country's, if we price in it; otherwise USD."""
    profile = getattr(user, "profile", None)
    currency = profile.preferred_currency if profile else DEFAULT_CURRENCY
    if Price.objects.filter(currency=currency, package__active=True).exists():
        return currency
    return DEFAULT_CURRENCY


def money_locale(*, user) -> str:
    profile = getattr(user, "profile", None)
    return locale_for_country(profile.country if profile else "")


@dataclass(frozen=True)
class Offer:
    package: CoinPackage
    price: Price

    @property
    def per_100_minor(self) -> Decimal:
        return Decimal(self.price.amount_minor) * 100 / self.package.total_coins


def offers_for(*, currency: str) -> list[Offer]:
    prices = (
        Price.objects.filter(currency=currency, package__active=True)
        .select_related("package")
        .order_by("package__sort_order", "package__coins")
    )
    return [Offer(package=price.package, price=price) for price in prices]


def best_rate_minor(*, currency: str) -> tuple[int, int] | None:
    """The cheapest (amount_minor, coins) pair among active packages in `currency`."""
    best: tuple[int, int] | None = None
    for offer in offers_for(currency=currency):
        pair = (offer.price.amount_minor, offer.package.total_coins)
        if best is None or pair[0] * best[1] < best[0] * pair[1]:
            best = pair
    return best


def custom_rate_for(*, coins: int, currency: str) -> Offer | None:
    """The package whose rate prices a custom amount of `coins` (DESIGN §2): the largest
    package (bonus coins counted) not above it, or the smallest when all are above; the
    cheaper of two the same size."""
    offers = sorted(
        offers_for(currency=currency), key=lambda o: (o.package.total_coins, -o.price.amount_minor)
    )
    if not offers:
        return None
    below = [offer for offer in offers if offer.package.total_coins <= coins]
    return below[-1] if below else offers[0]


def custom_amount_minor(*, coins: int, currency: str) -> int | None:
    """The price of `coins` at `custom_rate_for`'s rate, rounded up to a whole minor unit,
    and never more than a package of at least as many coins costs (just under a package
    with a better rate, the lower rate's total would pass the package's price)."""
    offer = custom_rate_for(coins=coins, currency=currency)
    if offer is None:
        return None
    amount = -(-coins * offer.price.amount_minor // offer.package.total_coins)
    bigger = [
        o.price.amount_minor
        for o in offers_for(currency=currency)
        if o.package.total_coins >= coins
    ]
    return min([amount, *bigger])


def ladder_problems(currency: str, ladder: list[tuple[int, int, str]]) -> list[str]:
    """Where `ladder`, (total coins, price in minor units, name) of one currency's packages,
    breaks "bulk is never worse value" (DESIGN §2): a package with more coins (bonus
    counted) costing more per coin than one with fewer. Exact: a/x > b/y as a·y > b·x."""
    ladder = sorted(ladder)
    problems = []
    for n, (coins, amount, name) in enumerate(ladder):
        for big_coins, big_amount, big_name in ladder[n + 1 :]:
            if big_coins > coins and big_amount * coins > amount * big_coins:
                problems.append(
                    f"{currency}: {big_name} for {big_amount} costs more per coin "
                    f"than {name} for {amount}"
                )
    return problems


def package_ladder(*, currency: str, without=None) -> list[tuple[int, int, str]]:
    """The active catalogue of `currency` as `ladder_problems` reads it (less package
    `without`, when staff are changing it)."""
    return [
        (offer.package.total_coins, offer.price.amount_minor, str(offer.package))
        for offer in offers_for(currency=currency)
        if without is None or offer.package.pk != without.pk
    ]


def bulk_value_problems(*, currency: str | None = None) -> list[str]:
    """Every place the active catalogue breaks the bulk rule, in `currency` or in all."""
    currencies = [currency] if currency else (
        Price.objects.filter(package__active=True)
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )  # fmt: skip
    problems = []
    for code in currencies:
        problems += ladder_problems(code, package_ladder(currency=code))
    return problems


@dataclass(frozen=True)
class CoinValue:
    """What one coin is worth to this fan: their own average purchase price, or the best
    package rate if they have bought none in this currency."""

    minor_per_coin: Decimal
    currency: str
    locale: str

    def of(self, coins: int) -> str:
        return format_rate(self.minor_per_coin * coins, self.currency, self.locale)


def coin_value(*, user) -> CoinValue:
    currency = pricing_currency(user=user)
    locale = money_locale(user=user)
    paid = Recharge.objects.filter(
        user=user, status=RechargeStatus.PAID, currency=currency
    ).aggregate(amount=Sum("amount_minor"), coins=Sum("coins"))
    if paid["coins"]:
        return CoinValue(Decimal(paid["amount"]) / paid["coins"], currency, locale)
    best = best_rate_minor(currency=currency)
    rate = Decimal(best[0]) / best[1] if best else Decimal(0)
    return CoinValue(rate, currency, locale)


def recharge_history(*, user) -> QuerySet[Recharge]:
    return Recharge.objects.filter(user=user).select_related("package").order_by("-created_at")


def statement(*, user) -> QuerySet[Entry]:
    """Every coin in and out of the fan's wallet, newest first, with its transaction."""
    return (
        Entry.objects.filter(account__owner=user, account__purpose=Purpose.WALLET)
        .select_related("transaction")
        .order_by("-id")
    )


def refund_refusal(*, recharge: Recharge, wallet: Account, now=None) -> str | None:
    """Why the fan can't refund `recharge` themselves now, or None if they can (DESIGN §2):
    paid, within RECHARGE_REFUND_HOURS of payment, the wallet not frozen, and none of its
    coins spent — no gift has been paid from the wallet since the recharge credited it, and
    its coins are all still there."""
    hours = settings.RECHARGE_REFUND_HOURS
    if recharge.status != RechargeStatus.PAID or recharge.paid_at is None:
        return errors.REFUND_NOT_PAID
    if recharge.paid_at <= (now or timezone.now()) - dt.timedelta(hours=hours):
        return errors.REFUND_WINDOW_PASSED.format(hours=hours)
    if wallet.frozen:
        return errors.REFUND_FROZEN
    if recharge.needs_review:
        return errors.REFUND_REVIEW
    credit = (
        Entry.objects.filter(account=wallet, transaction__idempotency_key=recharge.ledger_key)
        .values_list("pk", flat=True)
        .first()
    )
    # Spent: a gift paid from the wallet since (another purchase's refund is not spending).
    spent = Entry.objects.filter(
        account=wallet, amount__lt=0, pk__gt=credit or 0, transaction__kind=TransactionKind.GIFT
    ).exists()
    if credit is None or spent or wallet.balance < recharge.coins:
        return errors.REFUND_SPENT
    return None


def refundable_ids(*, user, recharges) -> set[int]:
    """Which of `recharges` (a page of the fan's history) the fan may refund now."""
    hours = settings.RECHARGE_REFUND_HOURS
    since = timezone.now() - dt.timedelta(hours=hours)
    recent = [
        r for r in recharges if r.status == RechargeStatus.PAID and r.paid_at and r.paid_at > since
    ]
    wallet = Account.objects.filter(owner=user, purpose=Purpose.WALLET).first() if recent else None
    if wallet is None:
        return set()
    return {r.pk for r in recent if refund_refusal(recharge=r, wallet=wallet) is None}


def custom_limits() -> tuple[int, int]:
    return settings.RECHARGE_CUSTOM_MIN_COINS, settings.RECHARGE_CUSTOM_MAX_COINS
