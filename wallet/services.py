"""Writes of the wallet: recharges, their fulfilment and clawback, staff adjustments.

Coins move only through `wallet.ledger.transaction_post`. Each change of a recharge's status
is one record in the money log (config/logs.py), carrying the ledger transaction that came
with it (the credit, the clawback), if any.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from config.logs import money_log_on_commit

from . import exceptions as errors
from .ledger import account_get, legs, transaction_post
from .limits import limits_check
from .models import (
    RECHARGE_TRANSITIONS,
    Account,
    CoinPackage,
    Price,
    Purpose,
    Recharge,
    RechargeStatus,
    RechargeStatusChange,
    Transaction,
    TransactionKind,
    Unit,
    WebhookEvent,
    WebhookEventStatus,
)
from .money import format_money
from .payments import PaymentProviderError, get_provider
from .selectors import (
    custom_amount_minor,
    custom_limits,
    money_locale,
    refund_refusal,
    wallet_is_frozen,
)
from .signals import coins_clawed_back

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- creation


def recharge_create(
    *,
    user,
    currency: str,
    package: CoinPackage | None = None,
    custom_coins: int | None = None,
    success_url: str,
    cancel_url: str,
) -> Recharge:
    """Snapshot what the fan buys, then open a hosted checkout for exactly that amount."""
    if (package is None) == (custom_coins is None):
        raise errors.RechargeError("Choose a package or a number of coins.")
    if wallet_is_frozen(user=user):
        raise errors.AccountFrozen(errors.RECHARGE_FROZEN)
    if package is not None:
        if not package.active:
            raise errors.RechargeError(errors.PACKAGE_UNAVAILABLE)
        price = Price.objects.filter(package=package, currency=currency).first()
        if price is None:
            raise errors.RechargeError(errors.NOT_PRICED.format(currency=currency))
        coins, amount = package.total_coins, price.amount_minor
    else:
        low, high = custom_limits()
        if not isinstance(custom_coins, int) or not low <= custom_coins <= high:
            raise errors.RechargeError(errors.CUSTOM_RANGE.format(low=low, high=high))
        amount = custom_amount_minor(coins=custom_coins, currency=currency)
        if amount is None:
            raise errors.RechargeError(errors.NOT_PRICED.format(currency=currency))
        coins = custom_coins

    provider = get_provider()
    with transaction.atomic(durable=True):
        limits_check(
            user=user, currency=currency, amount_minor=amount, locale=money_locale(user=user)
        )
        recharge = Recharge.objects.create(
            user=user, package=package, coins=coins, amount_minor=amount, currency=currency,
            provider=provider.name,
        )  # fmt: skip
    # The provider call is network I/O: never inside a database transaction.
    try:
        session = provider.checkout_create(
            recharge=recharge,
            success_url=success_url.replace("RECHARGE_ID", str(recharge.pk)),
            cancel_url=cancel_url.replace("RECHARGE_ID", str(recharge.pk)),
        )
    except PaymentProviderError as exc:
        logger.warning("checkout for recharge %s failed: %s", recharge.pk, exc)
        with transaction.atomic(durable=True):
            _locked(recharge.pk)
            recharge_set_status(recharge=recharge, to=RechargeStatus.FAILED, note=str(exc)[:300])
        raise errors.RechargeError(errors.PROVIDER_DOWN) from exc
    Recharge.objects.filter(pk=recharge.pk).update(
        provider_session_id=session.id, checkout_url=session.url
    )
    recharge.provider_session_id, recharge.checkout_url = session.id, session.url
    return recharge


# ----------------------------------------------------------------------------- state machine


def _set_lock_timeout() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Webhooks answer 503 (Stripe retries) rather than hold a worker on a busy row.
            cursor.execute(f"SET LOCAL lock_timeout = '{int(settings.WALLET_LOCK_TIMEOUT_MS)}ms'")


def _locked(pk: int | None = None, **lookup) -> Recharge:
    """The recharge row, locked for this transaction; RetryLater if the lock takes too long."""
    _set_lock_timeout()
    try:
        query = Recharge.objects.select_for_update()
        return query.get(pk=pk) if pk is not None else query.get(**lookup)
    except OperationalError as exc:
        raise errors.RetryLater("The recharge is busy; try again.") from exc


def recharge_set_status(
    *, recharge: Recharge, to: str, note: str = "", event_id: str = "",
    txn: Transaction | None = None,
) -> Recharge:  # fmt: skip
    """Move a locked recharge along RECHARGE_TRANSITIONS, recording the change. The money
    log hears of it on commit (`recharge.<status>`), with `txn`, the ledger transaction
    posted with it (unlogged) if any."""
    if to not in RECHARGE_TRANSITIONS[recharge.status]:
        raise errors.IllegalTransition(f"A {recharge.status} recharge cannot become {to}.")
    RechargeStatusChange.objects.create(
        recharge=recharge, from_status=recharge.status, to_status=to, note=note, event_id=event_id
    )
    _status_logged(recharge, to=to, note=note, event_id=event_id, txn=txn)
    recharge.status = to
    fields = ["status", "updated_at"]
    if to == RechargeStatus.PAID:
        recharge.paid_at = timezone.now()
        fields.append("paid_at")
    recharge.save(update_fields=fields)
    return recharge


def _status_logged(recharge: Recharge, *, to: str, note: str, event_id: str, txn) -> None:
    """The record of a status change: coins and diamonds are what `txn` moved (none
    without one); the money amount and currency are the recharge's."""
    fields = txn.log_fields if txn is not None else {"reference": f"recharge:{recharge.pk}"}
    extra = {"provider_event_id": event_id} if event_id else {}
    if note:
        extra["note"] = note
    money_log_on_commit(f"recharge.{to}", {
        **fields, "recharge_id": recharge.pk, "user_id": recharge.user_id,
        "from_status": str(recharge.status), "status": str(to),
        "amount_minor": recharge.amount_minor, "currency": recharge.currency,
        "provider": recharge.provider, **extra,
    })  # fmt: skip


def _flag(recharge: Recharge, note: str, event_id: str = "") -> None:
    logger.error("recharge %s needs review: %s", recharge.pk, note)
    recharge.needs_review = True
    recharge.review_note = note[:300]
    recharge.save(update_fields=["needs_review", "review_note", "updated_at"])


# ----------------------------------------------------------------------------- fulfilment


@dataclass(frozen=True)
class Fulfilment:
    recharge: Recharge
    credited: bool
    note: str = ""


def recharge_fulfil(
    *, session_id: str, amount_total: int | None, currency: str | None, payment_intent: str = "",
    event_id: str = "",
) -> Fulfilment:  # fmt: skip
    """Credit a paid checkout's coins exactly once.

    Called by the webhook and by the success page; whichever comes second finds the recharge
    paid and returns quietly. A paid amount or currency that differs from the snapshot is
    recorded for staff, never credited.
    """
    with transaction.atomic():
        recharge = _locked(provider_session_id=session_id)
        if recharge.status in (
            RechargeStatus.PAID,
            RechargeStatus.REFUNDED,
            RechargeStatus.DISPUTED,
        ):
            return Fulfilment(recharge, credited=False, note="already fulfilled")
        if recharge.status != RechargeStatus.PENDING:
            note = f"payment reported for a {recharge.status} recharge"
            _flag(recharge, note, event_id)
            return Fulfilment(recharge, credited=False, note=note)
        if amount_total != recharge.amount_minor or (currency or "").upper() != recharge.currency:
            note = (
                f"paid {amount_total} {(currency or '?').upper()}, expected "
                f"{recharge.amount_minor} {recharge.currency}"
            )
            _flag(recharge, note, event_id)
            return Fulfilment(recharge, credited=False, note=note)
        txn = transaction_post(
            kind=TransactionKind.RECHARGE,
            idempotency_key=recharge.ledger_key,
            legs=legs(
                (account_get(purpose=Purpose.COINS_ISSUED), -recharge.coins),
                (account_get(owner=recharge.user, purpose=Purpose.WALLET), recharge.coins),
            ),
            reference=f"recharge:{recharge.pk}",
            memo=f"{recharge.coins:,} coins for {format_money(recharge.amount_minor, recharge.currency)}",
            logged=False,  # recharge_set_status logs the credit with the recharge
        )
        if payment_intent:
            recharge.payment_intent_id = payment_intent
            recharge.save(update_fields=["payment_intent_id", "updated_at"])
        recharge_set_status(recharge=recharge, to=RechargeStatus.PAID, event_id=event_id, txn=txn)
        if payment_intent:
            _held_apply(recharge)
        return Fulfilment(recharge, credited=True)


# Provider events that undo a payment, and the status each leaves its recharge in.
UNDOING_EVENTS = {
    "charge.refunded": RechargeStatus.REFUNDED,
    "charge.dispute.created": RechargeStatus.DISPUTED,
}


def recharge_undo(
    *, recharge: Recharge, to: str, amount_refunded: int | None = None, event_id: str = ""
) -> str | None:
    """A locked, paid recharge was refunded or disputed at the provider: claw its coins back.
    A refund of less than the whole payment is left for staff: its note is returned."""
    if to == RechargeStatus.REFUNDED and (amount_refunded or 0) < recharge.amount_minor:
        note = f"partial refund of {amount_refunded} {recharge.currency}"
        _flag(recharge, note, event_id)
        return note
    recharge_clawback(recharge=recharge, to=to, event_id=event_id)
    return None


def payment_intent_lock(intent: str) -> None:
    """Serialise, per payment intent, holding an early refund or dispute with applying the
    held ones on payment (on PostgreSQL; SQLite runs one writer at a time): else a refund
    that misses a payment still committing, and a payment that misses a refund still
    committing, would each miss the other. RetryLater if the lock takes too long."""
    if connection.vendor != "postgresql":
        return
    _set_lock_timeout()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [intent])
    except OperationalError as exc:
        raise errors.RetryLater("The payment is busy; try again.") from exc


def _held_apply(recharge: Recharge) -> None:
    """Apply the refunds and disputes that arrived before this (locked, just credited)
    recharge's payment, in the order they came, in the transaction that credited it: the
    coins are never spendable."""
    payment_intent_lock(recharge.payment_intent_id)
    held = WebhookEvent.objects.select_for_update().filter(
        payment_intent=recharge.payment_intent_id, status=WebhookEventStatus.HELD
    )
    for event in held.order_by("received_at", "pk"):
        charge = event.payload["data"]["object"]
        review = recharge_undo(
            recharge=recharge,
            to=UNDOING_EVENTS[event.type],
            amount_refunded=charge.get("amount_refunded"),
            event_id=event.event_id,
        )
        event.status = WebhookEventStatus.REVIEW if review else WebhookEventStatus.PROCESSED
        event.note = (review or f"applied when recharge {recharge.pk} was paid")[:300]
        event.save(update_fields=["status", "note"])
        logger.info("webhook %s %s applied to recharge %s on payment",
                    event.type, event.event_id, recharge.pk)  # fmt: skip


def recharge_close(
    *, session_id: str, to: str, event_id: str = "", note: str = ""
) -> Recharge | None:
    """Close a pending recharge without coins (payment failed or checkout expired)."""
    with transaction.atomic():
        recharge = _locked(provider_session_id=session_id)
        if recharge.status != RechargeStatus.PENDING:
            return None
        return recharge_set_status(recharge=recharge, to=to, event_id=event_id, note=note)


def recharge_decline(*, recharge_id: int, message: str, event_id: str = "") -> Recharge | None:
    """Record that a card was declined at a recharge's checkout. The checkout stays open
    (another card may still pay), so the recharge stays pending; its history says
    "Card declined — not charged". None when there is no such pending recharge."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().filter(pk=recharge_id).first()
        if recharge is None or recharge.status != RechargeStatus.PENDING:
            return None
        recharge.declined_at = timezone.now()
        recharge.decline_message = (message or "Your card was declined.")[:200]
        recharge.save(update_fields=["declined_at", "decline_message", "updated_at"])
    logger.info(
        "recharge %s: card declined (%s) %s", recharge.pk, recharge.decline_message, event_id
    )
    return recharge


def recharges_expire(*, now=None) -> int:
    """End `expired` every checkout nobody finished within RECHARGE_CHECKOUT_HOURS; returns
    how many. Each goes through the path Stripe's `checkout.session.expired` takes
    (recharge_close). A Stripe session is asked first: paid, it is fulfilled instead; only
    one Stripe reports expired is closed (an open one Stripe expires and tells us of; a
    complete one is a payment still settling). Safe to run any time."""
    hours = settings.RECHARGE_CHECKOUT_HOURS
    cutoff = (now or timezone.now()) - dt.timedelta(hours=hours)
    note = f"checkout not finished within {hours} hours"
    closed = 0
    stale = Recharge.objects.filter(status=RechargeStatus.PENDING, created_at__lt=cutoff)
    for recharge in stale.order_by("pk").iterator():
        if not recharge.provider_session_id:  # the provider never opened a checkout
            with transaction.atomic():
                locked = _locked(pk=recharge.pk)
                if locked.status == RechargeStatus.PENDING:
                    recharge_set_status(recharge=locked, to=RechargeStatus.EXPIRED, note=note)
                    closed += 1
            continue
        try:
            session = get_provider(recharge.provider).checkout_retrieve(
                recharge.provider_session_id
            )
        except PaymentProviderError as exc:
            logger.warning("recharge %s not expired: %s", recharge.pk, exc)
            continue
        if session and session.get("payment_status") == "paid":
            recharge_sync(recharge=recharge)
            continue
        if session and session.get("status") != "expired":
            # Open: Stripe will expire it and tell us. Complete but unpaid: a payment
            # still settling (a bank debit), which async_payment_succeeded/failed ends.
            continue
        if recharge_close(
            session_id=recharge.provider_session_id, to=RechargeStatus.EXPIRED, note=note
        ):
            closed += 1
    return closed


def recharge_sync(*, recharge: Recharge) -> Recharge:
    """The success page: ask the provider about the session and fulfil if it is paid."""
    if recharge.status != RechargeStatus.PENDING or not recharge.provider_session_id:
        return recharge
    try:
        session = get_provider(recharge.provider).checkout_retrieve(recharge.provider_session_id)
    except PaymentProviderError as exc:
        logger.warning("could not retrieve session of recharge %s: %s", recharge.pk, exc)
        return recharge
    if session and session.get("payment_status") == "paid":
        with transaction.atomic(durable=True):
            recharge_fulfil(
                session_id=recharge.provider_session_id,
                amount_total=session.get("amount_total"),
                currency=session.get("currency"),
                payment_intent=session.get("payment_intent") or "",
            )
    recharge.refresh_from_db()
    return recharge


# ----------------------------------------------------------------------------- clawback


def recharge_clawback(
    *, recharge: Recharge, to: str, event_id: str = "", note: str = ""
) -> Recharge:
    """Take back a refunded or disputed recharge's coins (call with the recharge locked).

    Coins still in the wallet are debited; what was already spent becomes clawback debt and
    the wallet is frozen for staff review.
    """
    if to not in RECHARGE_TRANSITIONS[recharge.status]:
        return recharge  # already clawed back (a refund after a dispute moves status only)
    already = recharge.status == RechargeStatus.DISPUTED
    txn = None
    if not already:
        wallet = Account.objects.select_for_update().get(
            pk=account_get(owner=recharge.user, purpose=Purpose.WALLET).pk
        )
        from_wallet = min(wallet.balance, recharge.coins)
        debt = recharge.coins - from_wallet
        pairs = [(account_get(purpose=Purpose.COINS_ISSUED), recharge.coins)]
        if from_wallet:
            pairs.append((wallet, -from_wallet))
        if debt:
            pairs.append((account_get(owner=recharge.user, purpose=Purpose.CLAWBACK), -debt))
        txn = transaction_post(
            kind=TransactionKind.DISPUTE
            if to == RechargeStatus.DISPUTED
            else TransactionKind.REFUND,
            idempotency_key=f"clawback:{recharge.pk}",
            legs=legs(*pairs),
            reference=f"recharge:{recharge.pk}",
            memo=note or f"{to}: {recharge.coins:,} coins clawed back",
            check_frozen=False,
            logged=False,  # recharge_set_status logs the clawback with the recharge
        )
        if debt:
            Account.objects.filter(pk=wallet.pk).update(
                frozen=True,
                frozen_reason=f"Recharge #{recharge.pk} {to}: {debt:,} coins were already spent.",
            )
            coins_clawed_back.send(sender=Recharge, recharge=recharge, coins=debt)
    return recharge_set_status(recharge=recharge, to=to, event_id=event_id, note=note, txn=txn)


# ----------------------------------------------------------------------------- self-serve refund


def recharge_refund(*, user, recharge_id: int) -> Recharge:
    """The fan refunds their own recharge (DESIGN §2): refused with RechargeError, changing
    nothing, unless `refund_refusal` allows it. The provider refunds the payment (Stripe: a
    real Refund, idempotent per recharge) and the coins leave the wallet through the same
    clawback a refund webhook takes, once: the webhook Stripe sends after finds the recharge
    refunded already. The recharge row, then the wallet row are locked (the webhook's
    order), so a gift racing the refund either spent the coins before (refund refused) or
    waits and finds them gone."""
    with transaction.atomic(durable=True):
        recharge = _locked(pk=recharge_id)
        if recharge.user_id != user.pk:
            raise Recharge.DoesNotExist
        try:
            wallet = Account.objects.select_for_update().get(
                pk=account_get(owner=user, purpose=Purpose.WALLET).pk
            )
        except OperationalError as exc:  # the lock timeout _locked set
            raise errors.RetryLater("Your wallet is busy; try again in a moment.") from exc
        refusal = refund_refusal(recharge=recharge, wallet=wallet)
        if refusal:
            raise errors.RechargeError(refusal)
        try:
            refund_id = get_provider(recharge.provider).refund(recharge=recharge)
        except PaymentProviderError as exc:
            raise errors.RechargeError(errors.REFUND_PROVIDER.format(message=exc)) from exc
        recharge_clawback(
            recharge=recharge, to=RechargeStatus.REFUNDED, note=f"refunded by the fan ({refund_id})"
        )
        transaction.on_commit(lambda: _refund_email(recharge), robust=True)
    logger.info(
        "recharge %s refunded by its fan: %s coins, %s", recharge.pk, recharge.coins, refund_id
    )
    return recharge


def _refund_email(recharge: Recharge) -> None:
    amount = format_money(recharge.amount_minor, recharge.currency)
    send_mail(
        subject=f"Refund of {amount}",
        message=(
            f"You refunded your purchase of {recharge.coins:,} coins. {amount} goes back to "
            "the card you paid with (banks usually take 5–10 days); the coins have left your "
            "wallet.\n\n— Giftcast"
        ),
        from_email=None,
        recipient_list=[recharge.user.email],
    )


# ----------------------------------------------------------------------------- staff


def adjustment_post(*, owner, unit: str, amount: int, reason: str, staff, key: str | None = None):
    """A staff correction: a balanced transaction against the system adjustments account."""
    reason = reason.strip()
    if not reason:
        raise errors.LedgerError("An adjustment needs a reason.")
    if not isinstance(amount, int) or amount == 0:
        raise errors.LedgerError("Adjust by a whole, non-zero amount.")
    if unit == Unit.COIN:
        account, system = Purpose.WALLET, Purpose.COIN_ADJUSTMENTS
    else:
        account, system = Purpose.EARNINGS, Purpose.DIAMOND_ADJUSTMENTS
    with transaction.atomic(durable=True):
        return transaction_post(
            kind=TransactionKind.ADJUSTMENT,
            idempotency_key=key or f"adjustment:{uuid.uuid4()}",
            legs=legs(
                (account_get(owner=owner, purpose=account), amount),
                (account_get(purpose=system), -amount),
            ),
            reference=f"user:{owner.pk}",
            memo=reason,
            created_by=staff,
            check_frozen=False,
        )


def wallet_unfreeze(*, user, staff, note: str) -> None:
    Account.objects.filter(owner=user, purpose=Purpose.WALLET).update(
        frozen=False, frozen_reason=""
    )
    logger.info("wallet of user %s unfrozen by %s: %s", user.pk, staff.pk, note)
