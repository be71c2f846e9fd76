"""Writes of payouts: requests, the one status transition, payout methods, staff terms.

Diamonds move only through the wallet's ledger: a request moves them EARNINGS →
PAYOUT_HOLD, a rejection or failure back, a paid payout PAYOUT_HOLD → DIAMONDS_REDEEMED.
Each move is one balanced transaction with an idempotency key of its own. Each change of a
payout's status is one record in the money log (config/logs.py), carrying the move that came
with it, if any; so is each gift reversal and chargeback loss.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from config.logs import MONEY_LOGGER, money_log_on_commit
from wallet.exceptions import InsufficientFunds
from wallet.ledger import account_get, legs, transaction_post
from wallet.models import Account, Purpose, Transaction, TransactionKind

from . import exceptions as errors
from . import selectors
from .models import (
    TALLIES,
    TRANSITIONS,
    GiftReversal,
    Payout,
    PayoutMethod,
    PayoutMethodKind,
    PayoutStatus,
    PayoutStatusChange,
    PayoutTerms,
    TallyMark,
)
from .providers import get_provider

log = logging.getLogger(MONEY_LOGGER)

MAX_DIAMONDS = 10**15  # beyond any balance; keeps absurd input away from the database


def _money(cents: int) -> str:
    from wallet.money import format_money

    return format_money(cents, "USD")


# ----------------------------------------------------------------------------- requests


@transaction.atomic(durable=True)
def payout_request(*, creator, diamonds: int, key: str) -> Payout:
    """Request a payout of `diamonds` (rounded down to whole cents), once per `key`.

    Refused with PayoutError, changing nothing, below the minimum, above the available
    balance or the 24-hour cap, without a payout method or two-factor authentication. A
    repeated key returns the first payout. Concurrent requests queue on the creator's
    earnings account row, so together they never exceed what is available.
    """
    if not isinstance(diamonds, int) or isinstance(diamonds, bool) or diamonds <= 0:
        raise errors.PayoutError(errors.BAD_AMOUNT)
    if diamonds > MAX_DIAMONDS:
        diamonds = MAX_DIAMONDS  # refused below as more than available, with the real figure
    if not selectors.is_creator(user=creator):
        raise errors.PayoutNotAllowed(errors.NOT_CREATOR)
    if not is_mfa_enabled(creator):
        raise errors.PayoutNotAllowed(errors.NO_MFA)

    earnings = account_get(owner=creator, purpose=Purpose.EARNINGS)
    # The lock every request of this creator takes first: available balance, cap and key
    # are all read after it.
    Account.objects.select_for_update().filter(pk=earnings.pk).get()
    existing = Payout.objects.filter(creator=creator, key=key).first()
    if existing is not None:
        if existing.diamonds != selectors.payout_quote(diamonds).diamonds:
            raise errors.PayoutError(errors.KEY_REUSED)
        return existing
    if Account.objects.filter(owner=creator, purpose=Purpose.WALLET, frozen=True).exists():
        raise errors.PayoutNotAllowed(errors.FROZEN)
    method = selectors.active_method(creator=creator)
    problem = get_provider().method_problem(creator=creator, method=method)
    if problem:
        raise errors.PayoutNotAllowed(problem)

    quote = selectors.payout_quote(diamonds)
    minimum = selectors.minimum_cents(creator=creator)
    if quote.cents < minimum:
        raise errors.PayoutError(
            errors.TOO_SMALL.format(
                minimum=_money(minimum), diamonds=selectors.diamonds_for_cents(minimum)
            )
        )
    available = selectors.earnings_summary(creator=creator).available
    if quote.diamonds > available:
        raise errors.PayoutError(errors.TOO_LARGE.format(available=available, asked=diamonds))
    cap = selectors.daily_cap_cents()
    used = selectors.requested_last_day_cents(creator=creator)
    if used + quote.cents > cap:
        raise errors.PayoutError(
            errors.DAILY_CAP.format(
                cap=_money(cap), left=_money(max(0, cap - used)), asked=_money(quote.cents)
            )
        )

    try:
        with transaction.atomic():
            payout = Payout.objects.create(
                creator=creator, diamonds=quote.diamonds, amount_minor=quote.cents,
                currency="USD", method=method, provider=get_provider().name, key=key,
            )  # fmt: skip
    except IntegrityError:  # the same key, raced past the read above
        return Payout.objects.get(creator=creator, key=key)
    txn = transaction_post(
        kind=TransactionKind.PAYOUT_REQUEST,
        idempotency_key=f"payout:{payout.pk}:request",
        legs=legs(
            (earnings, -quote.diamonds),
            (account_get(owner=creator, purpose=Purpose.PAYOUT_HOLD), quote.diamonds),
        ),
        reference=f"payout:{payout.pk}",
        memo=f"Payout #{payout.pk}: {quote.diamonds:,} diamonds for {_money(quote.cents)}",
        created_by=creator,
        logged=False,  # _record logs it with the payout
    )
    _record(payout, from_status="", by=creator, note="", txn=txn)
    return payout


# ----------------------------------------------------------------------------- transitions


def _record(
    payout: Payout, *, from_status: str, by, note: str, txn: Transaction | None = None
) -> None:
    """The history row of a status change, the money log's record of it on commit
    (`payout.<status>`, with `txn`, the unlogged move that came with it, if any) and the
    creator's email."""
    PayoutStatusChange.objects.create(
        payout=payout, from_status=from_status, to_status=payout.status, by=by, note=note[:300]
    )
    # coins/diamonds are what `txn` moved (none without one); the money is the payout's.
    fields = txn.log_fields if txn is not None else {"reference": f"payout:{payout.pk}"}
    extra = {"provider_reference": payout.provider_reference} if payout.provider_reference else {}
    if note:
        extra["note"] = note[:300]
    money_log_on_commit(f"payout.{payout.status}", {
        **fields, "payout_id": payout.pk, "user_id": payout.creator_id,
        "from_status": from_status, "status": str(payout.status),
        "amount_minor": payout.amount_minor, "currency": payout.currency,
        "provider": payout.provider, "by": getattr(by, "pk", None), **extra,
    })  # fmt: skip
    transaction.on_commit(lambda: _notify(payout.pk))


def _give_back(payout: Payout, *, kind_of: str) -> Transaction:
    return transaction_post(
        kind=TransactionKind.PAYOUT_REJECTION,
        idempotency_key=f"payout:{payout.pk}:return",
        legs=legs(
            (account_get(owner=payout.creator, purpose=Purpose.PAYOUT_HOLD), -payout.diamonds),
            (account_get(owner=payout.creator, purpose=Purpose.EARNINGS), payout.diamonds),
        ),
        reference=f"payout:{payout.pk}",
        memo=f"Payout #{payout.pk} {kind_of}: {payout.diamonds:,} diamonds back",
        check_frozen=False,
        logged=False,  # _record logs it with the payout
    )


def _redeem(payout: Payout) -> Transaction:
    return transaction_post(
        kind=TransactionKind.PAYOUT_PAID,
        idempotency_key=f"payout:{payout.pk}:paid",
        legs=legs(
            (account_get(owner=payout.creator, purpose=Purpose.PAYOUT_HOLD), -payout.diamonds),
            (account_get(purpose=Purpose.DIAMONDS_REDEEMED), payout.diamonds),
        ),
        reference=f"payout:{payout.pk}",
        memo=f"Payout #{payout.pk} paid: {_money(payout.amount_minor)} ({payout.provider_reference})",
        check_frozen=False,
        logged=False,  # _record logs it with the payout
    )


@transaction.atomic(durable=True)
def payout_transition(
    *, payout_id: int, to: str, by, note: str = "", reference: str = ""
) -> Payout:
    """Move a payout to `to`: the one way any payout changes status.

    `by` is the staff member acting, or None for the payment provider (its webhook). Locks
    the payout, refuses a move TRANSITIONS does not allow (or one by the payout's own
    creator), moves the diamonds, and records who, when, from, to and why.
    """
    payout = Payout.objects.select_for_update().select_related("creator").get(pk=payout_id)
    current = payout.status
    if to not in TRANSITIONS.get(current, ()):
        raise errors.PayoutError(
            errors.ILLEGAL_MOVE.format(
                current=payout.get_status_display().lower(),
                target=PayoutStatus(to).label.lower() if to in PayoutStatus.values else to,
            )
        )
    if by is not None:
        if by.pk == payout.creator_id:
            raise errors.PayoutNotAllowed(errors.SELF_ACTION)
        if not by.is_staff:
            raise errors.PayoutNotAllowed(errors.STAFF_ONLY)
    note = note.strip()
    reference = reference.strip()
    provider = get_provider(payout.provider)
    if to in (PayoutStatus.REJECTED, PayoutStatus.FAILED) and not note:
        raise errors.PayoutError(errors.REASON_NEEDED)
    if to == PayoutStatus.PAID and provider.requires_reference and not reference:
        raise errors.PayoutError(errors.REFERENCE_NEEDED)

    payout.status = to
    fields = ["status", "updated_at"]
    txn = None
    if to in (PayoutStatus.REJECTED, PayoutStatus.FAILED):
        txn = _give_back(payout, kind_of=to)
        payout.note = note[:300]
        fields.append("note")
    elif to == PayoutStatus.PAID:
        if reference:
            payout.provider_reference = reference[:255]
        payout.paid_at = timezone.now()
        fields += ["provider_reference", "paid_at"]
        txn = _redeem(payout)
    elif reference:
        payout.provider_reference = reference[:255]
        fields.append("provider_reference")
    payout.save(update_fields=fields)
    _record(payout, from_status=current, by=by, note=note or reference, txn=txn)
    return payout


def payout_approve(*, payout_id: int, by) -> Payout:
    """Approve a requested payout; a provider that pays by itself starts paying it."""
    payout = payout_transition(payout_id=payout_id, to=PayoutStatus.APPROVED, by=by)
    return get_provider(payout.provider).on_approved(payout=payout)


# ----------------------------------------------------------------------------- emails


EMAIL_SUBJECTS = {
    PayoutStatus.REQUESTED: "We received your payout request",
    PayoutStatus.APPROVED: "Your payout was approved",
    PayoutStatus.PROCESSING: "Your payout is on its way",
    PayoutStatus.PAID: "Your payout was paid",
    PayoutStatus.FAILED: "Your payout failed: your diamonds are back",
    PayoutStatus.REJECTED: "Your payout was declined: your diamonds are back",
}


def _notify(payout_id: int) -> None:
    payout = Payout.objects.select_related("creator", "method").get(pk=payout_id)
    lines = [
        f"Payout #{payout.pk}: {payout.diamonds:,} diamonds, {_money(payout.amount_minor)}",
        f"Status: {payout.get_status_display()}",
        f"Paid to: {payout.method.masked}",
    ]
    if payout.note:
        lines.append(f"Reason: {payout.note}")
    if payout.provider_reference and payout.status == PayoutStatus.PAID:
        lines.append(f"Reference: {payout.provider_reference}")
    lines.append(f"See your payouts: {settings.SITE_URL}{reverse('payouts:payouts')}")
    send_mail(
        f"[Giftcast] {EMAIL_SUBJECTS[payout.status]}",
        "\n".join(lines),
        None,
        [payout.creator.email],
    )


# ----------------------------------------------------------------------------- methods


@transaction.atomic(durable=True)
def payout_method_set(
    *, creator, kind: str, paypal_email: str = "", bank_holder: str = "", iban: str = "",
    bic: str = "",
) -> PayoutMethod:  # fmt: skip
    """Save the creator's payout method, retiring the one before (kept for its payouts)."""
    method = PayoutMethod(
        creator=creator, kind=kind,
        paypal_email=paypal_email.strip() if kind == PayoutMethodKind.PAYPAL else "",
        bank_holder=bank_holder.strip() if kind == PayoutMethodKind.BANK else "",
        iban=iban if kind == PayoutMethodKind.BANK else "",
        bic=bic if kind == PayoutMethodKind.BANK else "",
    )  # fmt: skip
    method.full_clean(exclude=["creator"], validate_constraints=False)
    if kind == PayoutMethodKind.PAYPAL and not method.paypal_email:
        raise ValidationError({"paypal_email": "Enter your PayPal email address."})
    if kind == PayoutMethodKind.BANK and not (method.iban and method.bank_holder):
        raise ValidationError("Enter the account holder and IBAN.")
    previous = PayoutMethod.objects.select_for_update().filter(creator=creator, active=True).first()
    if previous is not None:
        previous.active = False
        previous.retired_at = timezone.now()
        previous.save(update_fields=["active", "retired_at"])
    method.save()
    log.info("payout method of user %s set to %s", creator.pk, method.masked)
    changed = "changed" if previous else "added"
    body = (
        f"Your payout method was {changed}: payouts now go to {method.masked}.\n"
        + (f"Before: {previous.masked}.\n" if previous else "")
        + "If this wasn't you, change your password and contact support right away."
    )
    transaction.on_commit(
        lambda: send_mail(f"[Giftcast] Payout method {changed}", body, None, [creator.email])
    )
    return method


def payout_minimum_set(*, creator, minimum_usd: Decimal, reason: str, by) -> PayoutTerms:
    """Staff lower (or restore) one creator's payout minimum, saying why."""
    if not by.is_staff:
        raise errors.PayoutNotAllowed(errors.STAFF_ONLY)
    if not reason.strip():
        raise errors.PayoutError(errors.REASON_NEEDED)
    terms, _ = PayoutTerms.objects.update_or_create(
        creator=creator,
        defaults={"minimum_usd": minimum_usd, "reason": reason.strip()[:300], "set_by": by},
    )
    return terms


# ----------------------------------------------------------------------------- chargebacks


def gifts_reverse_for_clawback(*, recharge, coins: int) -> list[GiftReversal]:
    """Take back the diamonds of the fan's gifts still clearing, newest first, until the
    `coins` the fan had already spent of a refunded or disputed recharge are covered.

    Runs inside the clawback's transaction (wallet.signals.coins_clawed_back). Each
    reversal is its own balanced transaction (EARNINGS → DIAMONDS_ISSUED) under the key
    `reversal:<gift id>`; diamonds already available are never taken back, and a gift
    whose creator no longer holds its diamonds (a staff adjustment spent them) is left.

    What is not taken back the platform absorbs: the diamonds of the gifts the spent coins
    paid for (newest first) that were not reversed move DIAMONDS_ISSUED → CHARGEBACK_LOSSES
    in one transaction (`chargeback-loss:<recharge id>`), so the loss is on the books, not only
    in the fan's clawback debt."""
    from livestreams.models import SentGift

    cutoff = selectors.clearing_cutoff()
    candidates = (
        SentGift.objects.filter(
            sender_id=recharge.user_id,
            created_at__gt=cutoff,
            reversal__isnull=True,
        )
        .select_related("stream", "gift")
        .order_by("-created_at", "-pk")
    )
    reversed_, covered, kept = [], 0, 0
    for gift in candidates.iterator(chunk_size=200):
        if covered >= coins:
            break
        covered += gift.coins
        if not gift.diamonds:
            continue  # nothing to take back (its share rounded into the next gift's)
        earnings = account_get(owner=gift.stream.creator, purpose=Purpose.EARNINGS)
        try:
            with transaction.atomic():
                txn = transaction_post(
                    kind=TransactionKind.GIFT_REVERSAL,
                    idempotency_key=f"reversal:{gift.pk}",
                    legs=legs(
                        (earnings, -gift.diamonds),
                        (account_get(purpose=Purpose.DIAMONDS_ISSUED), gift.diamonds),
                    ),
                    reference=f"gift:{gift.pk}",
                    memo=(
                        f"{gift.gift.name} × {gift.quantity} reversed: recharge "
                        f"#{recharge.pk} {recharge.status}"
                    ),
                    check_frozen=False,
                    logged=False,  # logged below, with the gift and the recharge
                )
                reversal = GiftReversal.objects.create(
                    sent_gift=gift, recharge_id=recharge.pk, diamonds=gift.diamonds,
                    transaction_id=txn.pk,
                )  # fmt: skip
        except InsufficientFunds:
            log.warning("gift %s not reversed: its creator's earnings no longer cover it", gift.pk)
            kept += gift.diamonds
            continue
        money_log_on_commit("gift.reversed", {
            **txn.log_fields, "sent_id": gift.pk, "user_id": gift.stream.creator_id,
            "fan_id": recharge.user_id, "recharge_id": recharge.pk,
        })  # fmt: skip
        reversed_.append(reversal)
    # The rest of the spent coins went to gifts that have cleared: newest first, their
    # diamonds stay with the creators, as do those of gifts that could not be reversed.
    older = SentGift.objects.filter(
        sender_id=recharge.user_id, created_at__lte=cutoff, reversal__isnull=True
    ).order_by("-created_at", "-pk")
    for gift_coins, gift_diamonds in older.values_list("coins", "diamonds").iterator(
        chunk_size=200
    ):
        if covered >= coins:
            break
        covered += gift_coins
        kept += gift_diamonds
    lost = kept
    if lost > 0:
        txn = transaction_post(
            kind=TransactionKind.CHARGEBACK_LOSS,
            idempotency_key=f"chargeback-loss:{recharge.pk}",
            legs=legs(
                (account_get(purpose=Purpose.CHARGEBACK_LOSSES), -lost),
                (account_get(purpose=Purpose.DIAMONDS_ISSUED), lost),
            ),
            reference=f"recharge:{recharge.pk}",
            memo=f"{lost:,} diamonds already earned from recharge #{recharge.pk}'s coins stay with creators",
            check_frozen=False,
            logged=False,  # logged below, with the recharge
        )
        money_log_on_commit("chargeback.loss", {
            **txn.log_fields, "fan_id": recharge.user_id, "recharge_id": recharge.pk,
        })  # fmt: skip
    return reversed_


def _on_coins_clawed_back(sender, *, recharge, coins: int, **kwargs) -> None:
    gifts_reverse_for_clawback(recharge=recharge, coins=coins)


# ----------------------------------------------------------------------------- tallies


def _tally_add(model, deltas: dict[tuple, list[int]]) -> None:
    """Add each key's [gifts, coins, diamonds] to its tally row, creating it at zero."""
    if not deltas:
        return
    table = model._meta.db_table
    keys = ["creator_id", *model.GRAIN]
    columns = ", ".join([*keys, "gifts", "coins", "diamonds"])
    marks = ", ".join(["%s"] * (len(keys) + 3))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608 - names from the model
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        f"gifts = {table}.gifts + excluded.gifts, coins = {table}.coins + excluded.coins, "
        f"diamonds = {table}.diamonds + excluded.diamonds"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*key, *values) for key, values in deltas.items()])


ROLLUP_BATCH = 20_000  # gift records folded per transaction


def earnings_rollup(*, batch: int = ROLLUP_BATCH) -> int:
    """Fold the gifts sent, and the reversals made, since the last roll-up into the
    dashboard's tallies; returns how many (fan, stream, day) sums it folded. Changes no
    money and may run at any time (the operator's scheduler runs it every few minutes).

    First the horizon, as ledger_rollup does: on PostgreSQL a SHARE ROW EXCLUSIVE lock on
    the gift and reversal tables waits for every in-flight writer to commit, the highest
    ids are read and the lock is let go at once, so every row up to them is committed and
    none can appear below them later. Then the rows up to the horizon are folded in
    batches of `batch` ids, each its own transaction under the mark row's lock: gifts
    sending on meanwhile never wait for the fold, two roll-ups never fold a row twice, and
    a crash loses nothing (the mark moves with each batch's tallies). Gifts are folded
    before reversals, so a reversal within the mark is always of a gift within it."""
    from livestreams.models import SentGift

    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {SentGift._meta.db_table}, {GiftReversal._meta.db_table} "
                    "IN SHARE ROW EXCLUSIVE MODE"
                )
        gifts_top = SentGift.objects.aggregate(top=Max("pk"))["top"] or 0
        reversals_top = GiftReversal.objects.aggregate(top=Max("pk"))["top"] or 0
    TallyMark.objects.get_or_create(pk=1)
    folded = 0
    while True:
        with transaction.atomic(durable=True):
            mark = TallyMark.objects.select_for_update().get(pk=1)
            if mark.gifts_through < gifts_top:
                upto = min(mark.gifts_through + batch, gifts_top)
                rows = selectors.tally_rows(
                    SentGift.objects.filter(pk__gt=mark.gifts_through, pk__lte=upto)
                )
                moved = {"gifts_through": upto}
            elif mark.reversals_through < reversals_top:
                upto = min(mark.reversals_through + batch, reversals_top)
                rows = selectors.tally_rows(
                    SentGift.objects.filter(
                        reversal__pk__gt=mark.reversals_through, reversal__pk__lte=upto
                    ),
                    sign=-1,
                )
                moved = {"reversals_through": upto}
            else:
                return folded  # at the horizon (or a concurrent roll-up went past it)
            for model in TALLIES:
                _tally_add(model, selectors.tally_sums(rows, ("creator_id", *model.GRAIN)))
            TallyMark.objects.filter(pk=1).update(**moved, rolled_at=timezone.now())
            folded += len(rows)
