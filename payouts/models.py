"""Payouts (DESIGN §5): diamonds turned into cash, the methods they are paid to, and the
exchange rates that show a creator their diamonds' worth in their own currency."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from livestreams.models import SentGift


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PROCESSING = "processing", "Processing"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


# The only moves a payout may make. `failed` and `rejected` give the diamonds back and are
# final (the creator makes a new request); `paid` is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    PayoutStatus.REQUESTED: frozenset({PayoutStatus.APPROVED, PayoutStatus.REJECTED}),
    PayoutStatus.APPROVED: frozenset(
        {PayoutStatus.PROCESSING, PayoutStatus.PAID, PayoutStatus.REJECTED}
    ),
    PayoutStatus.PROCESSING: frozenset({PayoutStatus.PAID, PayoutStatus.FAILED}),
    PayoutStatus.PAID: frozenset(),
    PayoutStatus.FAILED: frozenset(),
    PayoutStatus.REJECTED: frozenset(),
}
# Payouts whose diamonds sit in the creator's PAYOUT_HOLD account.
OPEN_STATUSES = frozenset({PayoutStatus.REQUESTED, PayoutStatus.APPROVED, PayoutStatus.PROCESSING})
# Payouts that count toward the rolling 24-hour cap (everything that has not given back).
CAPPED_STATUSES = OPEN_STATUSES | {PayoutStatus.PAID}


class PayoutMethodKind(models.TextChoices):
    PAYPAL = "paypal", "PayPal"
    BANK = "bank", "Bank transfer"
    # Made by the site when the creator's Stripe Connect account can receive payouts.
    STRIPE = "stripe", "Stripe"


class PayoutMethod(models.Model):
    """Where a creator is paid. A change makes a new row and retires the old one, so every
    payout keeps the method it was requested with, and the history says when it changed."""

    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_methods"
    )
    kind = models.CharField(max_length=10, choices=PayoutMethodKind.choices)
    paypal_email = models.EmailField(blank=True)
    bank_holder = models.CharField("account holder", max_length=100, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    stripe_account_id = models.CharField("Stripe account", max_length=255, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["creator"], condition=Q(active=True), name="payouts_one_active_method"
            ),
            models.CheckConstraint(
                condition=(Q(kind="paypal") & ~Q(paypal_email=""))
                | (Q(kind="bank") & ~Q(iban="") & ~Q(bank_holder=""))
                | (Q(kind="stripe") & ~Q(stripe_account_id="")),
                name="payouts_method_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        """The method as it is shown once saved: its kind and last 4 characters only."""
        if self.kind == PayoutMethodKind.PAYPAL:
            local = self.paypal_email.split("@", 1)[0]
            return f"PayPal ••••{local[-4:]}@…"
        if self.kind == PayoutMethodKind.STRIPE:
            return f"Stripe ••••{self.stripe_account_id[-4:]}"
        return f"Bank ••••{self.iban[-4:]}"


class Payout(models.Model):
    """A creator cashing out: diamonds held while staff (or a provider) pay them in USD."""

    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    diamonds = models.PositiveBigIntegerField()
    # Whole cents of USD, the currency the diamond's value is set in.
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(
        max_length=10, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED
    )
    method = models.ForeignKey(PayoutMethod, on_delete=models.PROTECT, related_name="payouts")
    provider = models.CharField(max_length=20)
    provider_reference = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=64, help_text="The creator's idempotency key.")
    note = models.CharField(max_length=300, blank=True, help_text="Why it was rejected or failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payouts_queue"),
            models.Index(fields=["creator", "-created_at"], name="payouts_by_creator"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["creator", "key"], name="payouts_creator_key"),
            models.CheckConstraint(condition=Q(diamonds__gt=0), name="payouts_diamonds_positive"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payouts_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk}: {self.diamonds:,} diamonds ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class PayoutStatusChange(models.Model):
    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=10, choices=PayoutStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=PayoutStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class PayoutTerms(models.Model):
    """Staff's per-creator exception to PAYOUT_MINIMUM_USD, with who set it and why."""

    creator = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payout_terms"
    )
    minimum_usd = models.DecimalField(max_digits=10, decimal_places=2)
    reason = models.CharField(max_length=300)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "payout minimum exception"
        constraints = [
            models.CheckConstraint(
                condition=Q(minimum_usd__gt=0), name="payouts_terms_minimum_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Minimum ${self.minimum_usd} for user {self.creator_id}"


class ExchangeRate(models.Model):
    """Staff-edited: how many units of `currency` one US dollar buys, for estimates only
    (payouts are made in USD)."""

    currency = models.CharField(max_length=3, unique=True)
    per_usd = models.DecimalField(max_digits=18, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]
        constraints = [
            models.CheckConstraint(condition=Q(per_usd__gt=0), name="payouts_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 USD = {self.per_usd} {self.currency}"


class GiftReversal(models.Model):
    """A gift still clearing whose diamonds were taken back from the creator because the
    fan's payment was refunded or disputed after the coins were spent (DESIGN §5)."""

    sent_gift = models.OneToOneField(SentGift, on_delete=models.PROTECT, related_name="reversal")
    recharge_id = models.BigIntegerField(help_text="The refunded or disputed recharge.")
    diamonds = models.PositiveBigIntegerField()
    transaction_id = models.BigIntegerField(help_text="The ledger transaction.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Gift {self.sent_gift_id} reversed ({self.diamonds:,} diamonds)"


class StripeAccount(models.Model):
    """A creator's Stripe Connect Express account (PAYOUT_PROVIDER=stripe), and what Stripe
    last told us about it (`account.updated`)."""

    creator = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_account"
    )
    account_id = models.CharField(max_length=255, unique=True)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Stripe Connect account"

    def __str__(self) -> str:
        return f"{self.account_id} (user {self.creator_id})"


# ----------------------------------------------------------------------------- tallies
#
# The dashboard reads a creator's gifts as tallies rolled up from the SentGift rows (less
# their reversals) up to a watermark, plus the few rows after it read as they are
# (payouts.services.earnings_rollup, payouts.selectors.GiftRecords). A tally is a sum of
# gift records through the mark and nothing else: `earnings_audit` recomputes every one.


class TallyMark(models.Model):
    """How far the tallies reach: every SentGift with id ≤ `gifts_through` is in them, less
    every GiftReversal with id ≤ `reversals_through`. One row (pk 1)."""

    gifts_through = models.BigIntegerField(default=0)
    reversals_through = models.BigIntegerField(default=0)
    rolled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"gifts ≤ {self.gifts_through}, reversals ≤ {self.reversals_through}"


class _Tally(models.Model):
    # Indexed through each tally's unique constraint, which leads with it.
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    gifts = models.BigIntegerField(default=0, help_text="Quantity sent.")
    coins = models.BigIntegerField(default=0)
    diamonds = models.BigIntegerField(default=0)

    # Each tally's grain: the columns it is grouped by, after `creator`.
    GRAIN: tuple[str, ...] = ()

    class Meta:
        abstract = True


class GiftTally(_Tally):
    """One fan's gifts to one stream on one day (UTC), anonymous sends apart."""

    stream = models.ForeignKey(
        "livestreams.Stream", on_delete=models.CASCADE, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    day = models.DateField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    anonymous = models.BooleanField(default=False)

    GRAIN = ("day", "stream_id", "sender_id", "anonymous")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "day", "stream", "sender", "anonymous"],
                name="payouts_gifttally_grain",
            )
        ]
        indexes = [models.Index(fields=["stream", "sender"], name="payouts_gifttally_stream")]

    def __str__(self) -> str:
        return f"{self.sender_id} to stream {self.stream_id} on {self.day}: {self.coins} coins"


class FanTally(_Tally):
    """One fan's gifts to a creator in all (anonymous sends apart): the lifetime ranking."""

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    anonymous = models.BooleanField(default=False)

    GRAIN = ("sender_id", "anonymous")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "sender", "anonymous"], name="payouts_fantally_grain"
            )
        ]
        indexes = [models.Index(fields=["creator", "-coins"], name="payouts_fantally_rank")]

    def __str__(self) -> str:
        return f"{self.sender_id} to {self.creator_id}: {self.coins} coins"


class DayTally(_Tally):
    """A creator's gifts on one day (UTC): the chart."""

    day = models.DateField()

    GRAIN = ("day",)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "day"], name="payouts_daytally_grain")
        ]

    def __str__(self) -> str:
        return f"{self.creator_id} on {self.day}: {self.diamonds} diamonds"


TALLIES = (GiftTally, FanTally, DayTally)
