"""The double-entry ledger (DESIGN §2), coin packages and prices, and recharges (DESIGN §3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import Exact, In, IsNull

from .money import format_money


class Unit(models.TextChoices):
    COIN = "COIN", "coins"
    DIAMOND = "DIAMOND", "diamonds"


class Purpose(models.TextChoices):
    # Owned by a user
    WALLET = "wallet", "Coin wallet"
    CLAWBACK = "clawback", "Clawback debt"
    EARNINGS = "earnings", "Diamond earnings"
    PAYOUT_HOLD = "payout_hold", "Diamonds held for a payout"
    # System (owner is null)
    COINS_ISSUED = "coins_issued", "Coins issued on recharge"
    COINS_SPENT = "coins_spent", "Coins spent on gifts"
    COIN_ADJUSTMENTS = "coin_adjustments", "Staff coin adjustments"
    DIAMONDS_ISSUED = "diamonds_issued", "Diamonds issued for gifts"
    DIAMONDS_REDEEMED = "diamonds_redeemed", "Diamonds redeemed in payouts"
    DIAMOND_ADJUSTMENTS = "diamond_adjustments", "Staff diamond adjustments"
    CHARGEBACK_LOSSES = "chargeback_losses", "Diamonds kept after refunds and disputes"


# Debits of these accounts must be checked against a balance read on every transaction, so
# their balance is cached on the row and changed with a conditional update. Every other
# account only receives in the hot path (or is debited under an explicit lock), and its
# balance is derived: `settled_balance` plus the entries after `settled_through`.
CACHED_PURPOSES = frozenset({Purpose.WALLET})
# User-owned accounts that may never go below zero.
NON_NEGATIVE_PURPOSES = frozenset({Purpose.WALLET, Purpose.EARNINGS, Purpose.PAYOUT_HOLD})
SYSTEM_PURPOSES = {
    Purpose.COINS_ISSUED: Unit.COIN,
    Purpose.COINS_SPENT: Unit.COIN,
    Purpose.COIN_ADJUSTMENTS: Unit.COIN,
    Purpose.DIAMONDS_ISSUED: Unit.DIAMOND,
    Purpose.DIAMONDS_REDEEMED: Unit.DIAMOND,
    Purpose.DIAMOND_ADJUSTMENTS: Unit.DIAMOND,
    Purpose.CHARGEBACK_LOSSES: Unit.DIAMOND,
}
USER_PURPOSES = {
    Purpose.WALLET: Unit.COIN,
    Purpose.CLAWBACK: Unit.COIN,
    Purpose.EARNINGS: Unit.DIAMOND,
    Purpose.PAYOUT_HOLD: Unit.DIAMOND,
}
# System accounts live at fixed ids, negative so they never meet the id sequence: the gift
# path names them without a lookup. Migration 0004 creates them (and moves older ones here).
SYSTEM_ACCOUNT_IDS = {
    Purpose.COINS_ISSUED: -1,
    Purpose.COINS_SPENT: -2,
    Purpose.COIN_ADJUSTMENTS: -3,
    Purpose.DIAMONDS_ISSUED: -4,
    Purpose.DIAMONDS_REDEEMED: -5,
    Purpose.DIAMOND_ADJUSTMENTS: -6,
    Purpose.CHARGEBACK_LOSSES: -7,
}


class Account(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        db_index=False,  # the (owner, unit, purpose) unique index serves owner lookups
    )
    unit = models.CharField(max_length=8, choices=Unit.choices)
    purpose = models.CharField(max_length=24, choices=Purpose.choices)
    # Cached accounts: the balance itself. Derived accounts: unused (always 0).
    balance = models.BigIntegerField(default=0)
    # Derived accounts: the balance through entry id `settled_through` (see wallet_rollup).
    settled_balance = models.BigIntegerField(default=0)
    settled_through = models.BigIntegerField(default=0)
    frozen = models.BooleanField(default=False)
    frozen_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "unit", "purpose"], name="wallet_account_owner_unit_purpose"
            ),
            models.UniqueConstraint(
                fields=["unit", "purpose"], condition=Q(owner__isnull=True),
                name="wallet_account_system_unit_purpose",
            ),
            # Only cached accounts (fans' wallets) use `balance`; every other account keeps it
            # at 0 (ledger_audit checks), so one short CHECK guards every wallet. Short on
            # purpose: PostgreSQL re-reads each CHECK on every balance update of the gift path.
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="wallet_account_balance_non_negative"
            ),
            # System accounts have no owner and every user account has one.
            models.CheckConstraint(
                condition=Exact(
                    IsNull(F("owner"), True), In(F("purpose"), sorted(p.value for p in SYSTEM_PURPOSES))
                ),
                name="wallet_account_system_iff_ownerless",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        who = f"user {self.owner_id}" if self.owner_id else "system"
        return f"{self.get_purpose_display()} ({who}, {self.unit})"


class TransactionKind(models.TextChoices):
    RECHARGE = "recharge", "Recharge"
    GIFT = "gift", "Gift"
    REFUND = "refund", "Refund clawback"
    DISPUTE = "dispute", "Dispute clawback"
    ADJUSTMENT = "adjustment", "Staff adjustment"
    PAYOUT_REQUEST = "payout_request", "Payout request"
    PAYOUT_REJECTION = "payout_rejection", "Payout rejection"
    PAYOUT_PAID = "payout_paid", "Payout paid"
    GIFT_REVERSAL = "gift_reversal", "Gift reversed (refund or dispute)"
    CHARGEBACK_LOSS = "chargeback_loss", "Diamonds kept after a refund or dispute"


class Transaction(models.Model):
    """One business event. Immutable: a mistake is corrected by another transaction."""

    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    idempotency_key = models.CharField(max_length=100)
    # Hash of what was asked, so a replayed key with a different payload is refused.
    fingerprint = models.CharField(max_length=64)
    # Not indexed: nothing looks transactions up by reference (admin search is a substring
    # match no b-tree serves), and two index entries per gift were pure write cost.
    reference = models.CharField(
        max_length=64,
        blank=True,
        help_text="The business record, e.g. recharge:12 or gift:40.",
    )
    memo = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Every index here is paid on every gift: only the key's uniqueness is essential.
        # (A UniqueConstraint, not unique=True, so PostgreSQL gets no extra LIKE index.)
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="wallet_transaction_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(models.Model):
    # No database foreign key (its per-entry check cost ~8% of the ledger's database time):
    # transactions are append-only, a trigger refuses their deletion (migrations 0006 and, on
    # SQLite, 0012), each
    # entry is written by the call that has just written its transaction, and ledger_audit
    # reports any entry whose transaction does not exist.
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    # Indexed through (account, id) below, which also serves derived-balance reads.
    # No database foreign key here, on purpose: its check takes a KEY SHARE lock on the
    # referenced account row, and every gift references the same two system accounts, so
    # every gift would queue on those rows' page (the hot row DESIGN §2 forbids). Instead
    # accounts can never be deleted nor renumbered (triggers: migration 0004, and 0012 on
    # SQLite), every account id the ledger writes is one it has just read or written, and
    # ledger_audit reports any entry whose account does not exist.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    amount = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account", "id"], name="wallet_entry_account_id")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} on {self.account_id}"


# ---------------------------------------------------------------------------- catalogue


class CoinPackage(models.Model):
    coins = models.PositiveIntegerField()
    bonus_coins = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "coins"]
        constraints = [
            models.CheckConstraint(condition=Q(coins__gt=0), name="wallet_package_coins_positive"),
            models.UniqueConstraint(fields=["coins", "bonus_coins"], name="wallet_package_unique"),
        ]

    def __str__(self) -> str:
        bonus = f" + {self.bonus_coins:,} bonus" if self.bonus_coins else ""
        return f"{self.coins:,} coins{bonus}"

    @property
    def total_coins(self) -> int:
        return self.coins + self.bonus_coins


class Price(models.Model):
    """What a package costs in one currency, in that currency's minor units (ISO 4217)."""

    package = models.ForeignKey(CoinPackage, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(max_length=3)
    amount_minor = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "currency"], name="wallet_price_unique"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="wallet_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.package}: {format_money(self.amount_minor, self.currency)}"


# ---------------------------------------------------------------------------- recharges


class RechargeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed"


RECHARGE_TRANSITIONS: dict[str, set[str]] = {
    RechargeStatus.PENDING: {RechargeStatus.PAID, RechargeStatus.FAILED, RechargeStatus.EXPIRED},
    RechargeStatus.PAID: {RechargeStatus.REFUNDED, RechargeStatus.DISPUTED},
    RechargeStatus.DISPUTED: {RechargeStatus.REFUNDED},
    RechargeStatus.FAILED: set(),
    RechargeStatus.EXPIRED: set(),
    RechargeStatus.REFUNDED: set(),
}


class Recharge(models.Model):
    """A fan buying coins: a snapshot of what was offered, and what became of it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recharges"
    )
    package = models.ForeignKey(CoinPackage, null=True, blank=True, on_delete=models.PROTECT)
    coins = models.PositiveIntegerField()
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    provider = models.CharField(max_length=20)
    provider_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(
        max_length=10, choices=RechargeStatus.choices, default=RechargeStatus.PENDING
    )
    needs_review = models.BooleanField(
        default=False, help_text="Something did not match; staff must look."
    )
    review_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # A declined card leaves the checkout open (Stripe's does too): the recharge stays
    # pending, and the history says what happened.
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_message = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(coins__gt=0), name="wallet_recharge_coins_positive"),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="wallet_recharge_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Recharge #{self.pk}: {self.coins:,} coins ({self.status})"

    @property
    def ledger_key(self) -> str:
        return f"recharge:{self.pk}"

    @property
    def status_words(self) -> str:
        """What happened, in words: the fan's history, the CSV and admin say this."""
        declined = "Card declined — not charged"
        if self.status == RechargeStatus.PENDING:
            return declined if self.declined_at else "Awaiting payment"
        if self.status == RechargeStatus.EXPIRED:
            return declined if self.declined_at else "Checkout expired — not charged"
        if self.status == RechargeStatus.FAILED:
            return "Payment failed — not charged"
        return self.get_status_display()

    @property
    def can_continue(self) -> bool:
        """An open checkout the fan may go back to (until it expires)."""
        return self.status == RechargeStatus.PENDING and bool(self.checkout_url)


class RechargeStatusChange(models.Model):
    recharge = models.ForeignKey(Recharge, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, choices=RechargeStatus.choices)
    to_status = models.CharField(max_length=10, choices=RechargeStatus.choices)
    note = models.CharField(max_length=300, blank=True)
    event_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class WebhookEventStatus(models.TextChoices):
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    REVIEW = "review", "Needs review"
    HELD = "held", "Held for its payment"


class WebhookEvent(models.Model):
    """Each verified payment-provider event, once (its id is unique): redeliveries are no-ops.

    Stripe does not order its events: a refund or dispute can arrive before the checkout it
    undoes has completed. Such an event is `held` under its payment intent and applied when
    that payment lands (wallet.services.recharge_fulfil), so its coins are never kept.
    """

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=WebhookEventStatus.choices)
    note = models.CharField(max_length=300, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


# ---------------------------------------------------------------------------- spending limits


class LimitKind(models.TextChoices):
    PER_RECHARGE = "per_recharge", "Per recharge"
    DAILY = "daily", "Per 24 hours"
    MONTHLY = "monthly", "Per 30 days"


class SpendingLimit(models.Model):
    """A cap a fan sets on their own recharges, in the minor units of the currency they set
    it in (`currency`; a pending change keeps its own, `pending_currency`).

    Lowering takes effect at once; raising (or removing) only after a cooling-off period,
    held in the pending_* fields until `pending_from`. A recharge in another currency is
    measured against the cap through the price table (wallet.limits).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spending_limits"
    )
    kind = models.CharField(max_length=12, choices=LimitKind.choices)
    currency = models.CharField(max_length=3)
    amount_minor = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    pending_currency = models.CharField(max_length=3, blank=True)
    pending_amount_minor = models.PositiveIntegerField(null=True, blank=True)
    pending_from = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="wallet_limit_user_kind"),
            models.CheckConstraint(
                condition=Q(pending_from__isnull=True) | ~Q(pending_currency=""),
                name="wallet_limit_pending_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} limit of user {self.user_id}"

    def in_force(self, now) -> tuple[str, int | None]:
        """(currency, amount in its minor units or None for no limit) at `now`."""
        if self.pending_from is not None and self.pending_from <= now:
            return self.pending_currency, self.pending_amount_minor
        return self.currency, self.amount_minor
