"""The double-entry ledger (DESIGN §2), coin packages and prices, and recharges (DESIGN §3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
}
USER_PURPOSES = {
    Purpose.WALLET: Unit.COIN,
    Purpose.CLAWBACK: Unit.COIN,
    Purpose.EARNINGS: Unit.DIAMOND,
    Purpose.PAYOUT_HOLD: Unit.DIAMOND,
}


class Account(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
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
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | ~Q(purpose__in=[p.value for p in NON_NEGATIVE_PURPOSES])
                | Q(balance__gte=0),
                name="wallet_account_user_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=True, purpose__in=[p.value for p in SYSTEM_PURPOSES])
                | Q(owner__isnull=False, purpose__in=[p.value for p in USER_PURPOSES]),
                name="wallet_account_owner_matches_purpose",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        who = f"user {self.owner_id}" if self.owner_id else "system"
        return f"{self.get_purpose_display()} ({who}, {self.unit})"

    @property
    def is_cached(self) -> bool:
        return self.purpose in CACHED_PURPOSES


class TransactionKind(models.TextChoices):
    RECHARGE = "recharge", "Recharge"
    GIFT = "gift", "Gift"
    REFUND = "refund", "Refund clawback"
    DISPUTE = "dispute", "Dispute clawback"
    ADJUSTMENT = "adjustment", "Staff adjustment"
    PAYOUT_REQUEST = "payout_request", "Payout request"
    PAYOUT_REJECTION = "payout_rejection", "Payout rejection"
    PAYOUT_PAID = "payout_paid", "Payout paid"
    TRANSFER = "transfer", "Transfer"


class Transaction(models.Model):
    """One business event. Immutable: a mistake is corrected by another transaction."""

    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    idempotency_key = models.CharField(max_length=100, unique=True)
    # Hash of what was asked, so a replayed key with a different payload is refused.
    fingerprint = models.CharField(max_length=64)
    reference = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="The business record, e.g. recharge:12 or gift:40.",
    )
    memo = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account", "id"], name="wallet_entry_account_id")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} on {self.account_id}"
