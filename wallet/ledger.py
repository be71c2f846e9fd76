"""The ledger's one way to move value: `transaction_post`, plus balances, roll-up and audit.

Every movement of coins or diamonds is a Transaction with entries that sum to zero per unit.
Balances of cached accounts (fans' coin wallets) change in the same database transaction as
their entries, through a conditional UPDATE that refuses to go below zero. Receive-only
accounts are never updated per transaction (no hot rows): their balance is derived.

Each posted transaction is one record in the money log (config/logs.py) once it commits:
written here, or, where the caller says `logged=False`, by the caller, which knows more of
the event (a recharge's or payout's change of status, a gift) and adds `txn.log_fields`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum

from config.logs import money_log_on_commit
from config.pgcall import prepared_row

from . import exceptions as errors
from .models import (
    CACHED_PURPOSES,
    NON_NEGATIVE_PURPOSES,
    SYSTEM_ACCOUNT_IDS,
    SYSTEM_PURPOSES,
    USER_PURPOSES,
    Account,
    Entry,
    Purpose,
    Transaction,
)


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int


def account_get(*, owner=None, purpose: Purpose) -> Account:
    """The account of `owner` (a user, or None for the system) for `purpose`, created on first use."""
    units = USER_PURPOSES if owner is not None else SYSTEM_PURPOSES
    if purpose not in units:
        raise errors.LedgerError(f"{purpose} is not a {'user' if owner else 'system'} account")
    if owner is None:
        lookup = {"pk": SYSTEM_ACCOUNT_IDS[purpose], "unit": units[purpose], "purpose": purpose}
    else:
        lookup = {"owner": owner, "unit": units[purpose], "purpose": purpose}
    try:
        return Account.objects.get(**lookup)
    except Account.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup)
    except IntegrityError:
        # Created by a concurrent request between our read and insert.
        return Account.objects.get(**lookup)


def system_accounts_ensure(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Make any missing system account at its fixed id (after migrate, and after a flush)."""
    if Account._meta.db_table not in connections[using].introspection.table_names():
        return  # migrated back to before the wallet existed
    existing = set(
        Account.objects.filter(pk__in=SYSTEM_ACCOUNT_IDS.values()).values_list("pk", flat=True)
    )
    for purpose, pk in SYSTEM_ACCOUNT_IDS.items():
        if pk not in existing:
            account_get(purpose=purpose)


def _fingerprint(kind: str, reference: str, legs: Iterable[tuple[int | None, str, int]]) -> str:
    """What a request asked for, independent of account ids (both post paths agree on it)."""
    parts = sorted(f"{owner or 0}:{purpose}:{amount}" for owner, purpose, amount in legs)
    return hashlib.sha256(f"{kind}|{reference}|{';'.join(parts)}".encode()).hexdigest()


def _validate(units_and_amounts: Sequence[tuple[str, int]]) -> None:
    """Two or more non-zero integer amounts that sum to zero per unit, or LedgerError."""
    if len(units_and_amounts) < 2:
        raise errors.LedgerError(errors.TOO_FEW_ENTRIES)
    totals: dict[str, int] = defaultdict(int)
    for unit, amount in units_and_amounts:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise errors.LedgerError(f"Amounts are integers, not {type(amount).__name__}.")
        if amount == 0:
            raise errors.LedgerError(errors.ZERO_ENTRY)
        totals[unit] += amount
    for unit, total in totals.items():
        if total:
            raise errors.LedgerError(errors.UNBALANCED.format(unit=unit, total=total))


def derived_balance(account: Account) -> int:
    since = (
        Entry.objects.filter(account=account, id__gt=account.settled_through).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    return account.settled_balance + since


def account_balance(account: Account) -> int:
    """The balance of `account` as committed now (re-read from the database)."""
    if account.purpose in CACHED_PURPOSES:
        return Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    account = Account.objects.get(pk=account.pk)
    return derived_balance(account)


def _debit_cached(leg: Leg, *, check_frozen: bool) -> None:
    account = leg.account
    rows = Account.objects.filter(pk=account.pk)
    if leg.amount < 0:
        rows = rows.filter(balance__gte=-leg.amount)
        if check_frozen:
            rows = rows.filter(frozen=False)
    if rows.update(balance=F("balance") + leg.amount) == 1:
        return
    current = Account.objects.get(pk=account.pk)
    if check_frozen and current.frozen:
        raise errors.AccountFrozen(errors.FROZEN)
    raise errors.InsufficientFunds(
        errors.INSUFFICIENT_COINS.format(balance=current.balance, needed=-leg.amount)
        if current.unit == "COIN"
        else errors.INSUFFICIENT.format(
            unit="diamonds", balance=current.balance, needed=-leg.amount
        )
    )


def _debit_derived(leg: Leg, *, check_frozen: bool) -> None:
    # Rare (payout requests, clawbacks): lock the owner's row and check the derived balance.
    account = Account.objects.select_for_update().get(pk=leg.account.pk)
    if check_frozen and account.frozen:
        raise errors.AccountFrozen(errors.FROZEN)
    if account.purpose in NON_NEGATIVE_PURPOSES:
        balance = derived_balance(account)
        if balance + leg.amount < 0:
            unit = "coins" if account.unit == "COIN" else "diamonds"
            raise errors.InsufficientFunds(
                errors.INSUFFICIENT.format(unit=unit, balance=balance, needed=-leg.amount)
            )


def _units_moved(units_and_amounts: Iterable[tuple[str, int]]) -> dict[str, int]:
    """What a balanced transaction moves per unit (the sum of its credits), for the log."""
    moved = {"coins": 0, "diamonds": 0}
    for unit, amount in units_and_amounts:
        if amount > 0:
            moved["coins" if unit == "COIN" else "diamonds"] += amount
    return moved


def _log_fields(
    txn_id: int, kind: str, key: str, reference: str,
    units_and_amounts: Iterable[tuple[str, int]], legs: list[dict],
) -> dict:  # fmt: skip
    """What the money log says of a transaction, whoever writes the record."""
    return {
        "txn_id": txn_id, "kind": str(kind), "key": key, "reference": reference,
        **_units_moved(units_and_amounts), "legs": legs,
    }  # fmt: skip


def _ledger_logged(fields: dict, *, replayed: bool, memo: str, created_by_id) -> None:
    """transaction_post's own record of a transaction no caller describes: `ledger.<kind>`
    (with its memo: an adjustment's reason), or `ledger.replayed` for a key seen before,
    which moved nothing (no amounts, so a sum over the log counts each movement once)."""
    if replayed:
        keep = ("txn_id", "kind", "key", "reference")
        money_log_on_commit("ledger.replayed", {name: fields[name] for name in keep})
        return
    extra = {"memo": memo} if memo else {}
    if created_by_id is not None:
        extra["created_by"] = created_by_id
    money_log_on_commit(f"ledger.{fields['kind']}", {**fields, **extra})


def transaction_post(
    *,
    kind: str,
    idempotency_key: str,
    legs: Sequence[Leg],
    reference: str = "",
    memo: str = "",
    created_by=None,
    check_frozen: bool = True,
    logged: bool = True,
) -> Transaction:
    """Post one balanced transaction, exactly once per `idempotency_key`.

    Repeating a key with the same request returns the first transaction (`replayed` is set)
    and moves nothing; the same key with a different request raises IdempotencyConflict.
    Raises InsufficientFunds or AccountFrozen, and changes nothing, when a user account would
    go below zero or is frozen (debits only; credits to a frozen account are allowed).

    The money log hears of it on commit (`ledger.<kind>`, or `ledger.replayed`), unless
    `logged` is False: then the caller logs the event itself, with `txn.log_fields` (id,
    kind, key, reference, coins and diamonds moved, legs).
    """
    _validate([(leg.account.unit, leg.amount) for leg in legs])
    fingerprint = _fingerprint(
        kind, reference, [(leg.account.owner_id, leg.account.purpose, leg.amount) for leg in legs]
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                txn = Transaction.objects.create(
                    kind=kind,
                    idempotency_key=idempotency_key,
                    fingerprint=fingerprint,
                    reference=reference,
                    memo=memo[:300],
                    created_by=created_by,
                )
        except IntegrityError:
            existing = Transaction.objects.get(idempotency_key=idempotency_key)
            if existing.fingerprint != fingerprint:
                raise errors.IdempotencyConflict(errors.KEY_REUSED) from None
            existing.replayed = True
            _posted_log(existing, legs, logged=logged, memo=memo)
            return existing
        # A stable order over the rows we change means two transactions never wait on each
        # other in opposite orders (no deadlocks).
        for leg in sorted(legs, key=lambda leg: leg.account.pk):
            user_owned = leg.account.owner_id is not None
            if leg.account.purpose in CACHED_PURPOSES:
                _debit_cached(leg, check_frozen=check_frozen and user_owned)
            elif leg.amount < 0 and user_owned:
                _debit_derived(leg, check_frozen=check_frozen)
        Entry.objects.bulk_create(
            [Entry(transaction=txn, account=leg.account, amount=leg.amount) for leg in legs]
        )
        txn.replayed = False
        _posted_log(txn, legs, logged=logged, memo=memo)
    return txn


def _posted_log(txn: Transaction, legs: Sequence[Leg], *, logged: bool, memo: str) -> None:
    """Note the log fields on `txn` and, when logged, log it as the transaction commits."""
    txn.log_fields = _log_fields(
        txn.pk, txn.kind, txn.idempotency_key, txn.reference,
        [(leg.account.unit, leg.amount) for leg in legs],
        [{"account": leg.account.pk, "user": leg.account.owner_id,
          "purpose": str(leg.account.purpose), "amount": leg.amount} for leg in legs],
    )  # fmt: skip
    if txn.replayed:
        txn.log_fields["replayed"] = True
    if logged:
        _ledger_logged(
            txn.log_fields, replayed=txn.replayed, memo=memo, created_by_id=txn.created_by_id
        )


@dataclass(frozen=True)
class Posted:
    """What transfer_post answers: the transaction's id, and whether the key was seen before."""

    pk: int
    replayed: bool
    balance: int | None = None  # the payer's cached balance after it (first cached leg)


class OwnerLeg(NamedTuple):
    """A leg named by its owner's id (None: the system) and purpose, not by account row."""

    owner_id: int | None
    purpose: str
    amount: int


class _LegSpec(NamedTuple):
    """What the hot path needs to know of a purpose."""

    unit: str
    system_id: str | None  # the system account's fixed id, as SQL text
    cached: bool
    purpose: str  # as text


# Keyed by the Purpose member and by its plain value.
_LEG_SPECS: dict[str, _LegSpec] = {}
for _purpose, _unit in {**SYSTEM_PURPOSES, **USER_PURPOSES}.items():
    _system_id = SYSTEM_ACCOUNT_IDS.get(_purpose)
    _LEG_SPECS[_purpose] = _LEG_SPECS[_purpose.value] = _LegSpec(
        _unit.value, None if _system_id is None else str(_system_id),
        _purpose in CACHED_PURPOSES, _purpose.value,
    )  # fmt: skip


def transfer_post(
    *,
    kind: str,
    idempotency_key: str,
    legs: Sequence[OwnerLeg],
    reference: str = "",
    memo: str = "",
    check_frozen: bool = True,
    savepoint: bool = True,
    logged: bool = True,
) -> Posted:
    """Like `transaction_post`, for legs named by owner and purpose.

    On PostgreSQL this is one round trip: a call of the `wallet_post` database function
    (wallet/sql/wallet_post.sql) that inserts the transaction under its unique key, applies guarded
    debits to wallets found by owner, finds (or makes) receive-only user accounts and writes
    the entries; system accounts are passed by their fixed ids. Elsewhere (SQLite, or
    USE_DATABASE_FUNCTIONS off) it resolves the accounts with the ORM and calls
    `transaction_post`. Both write the same ledger.

    Inside a caller's transaction a refusal rolls back to a savepoint, so the caller can go
    on; `savepoint=False` saves those round trips for callers whose whole transaction fails
    with it anyway (the gift path). Logged as `transaction_post` logs, on either path (the
    function's legs name accounts by owner and purpose: `account` is the system accounts'
    fixed id, null for users' accounts); `logged=False` for callers that log the event.
    """
    specs = []
    for leg in legs:
        spec = _LEG_SPECS.get(leg.purpose)
        if spec is None:
            raise errors.LedgerError(f"Unknown purpose {leg.purpose!r}.")
        if (leg.owner_id is None) != (spec.system_id is not None):
            raise errors.LedgerError(
                f"{leg.purpose} is not a {'system' if leg.owner_id is None else 'user'} account"
            )
        specs.append(spec)
    _validate([(spec.unit, leg.amount) for spec, leg in zip(specs, legs, strict=True)])

    conn = connections[DEFAULT_DB_ALIAS]
    # Debits of receive-only user accounts need the lock-and-check of the portable path.
    one_call = (
        conn.vendor == "postgresql"
        and settings.USE_DATABASE_FUNCTIONS
        and not any(
            leg.owner_id is not None and leg.amount < 0 and not spec.cached
            for spec, leg in zip(specs, legs, strict=True)
        )
    )
    if not one_call:
        return _transfer_post_portable(
            kind=kind, idempotency_key=idempotency_key, legs=legs, reference=reference,
            memo=memo, check_frozen=check_frozen, logged=logged,
        )  # fmt: skip

    fingerprint = _fingerprint(
        kind, reference, [(leg.owner_id, leg.purpose, leg.amount) for leg in legs]
    )
    args = (
        kind, idempotency_key, fingerprint, reference, memo[:300],
        _pg_array([spec.system_id or "NULL" for spec in specs]),
        _pg_array(["NULL" if leg.owner_id is None else str(int(leg.owner_id)) for leg in legs]),
        _pg_array([spec.purpose for spec in specs]),
        _pg_array([spec.unit for spec in specs]),
        _pg_array([str(int(leg.amount)) for leg in legs]),
        _pg_array(["t" if spec.cached else "f" for spec in specs]),
        "t" if check_frozen else "f",
    )  # fmt: skip
    try:
        row = prepared_row("giftcast_wallet_post", WALLET_POST_SQL, args, savepoint=savepoint)
    except DatabaseError as exc:
        if refusal := database_refusal(exc):
            raise refusal from None
        raise
    txn_id, replayed, balance = row
    posted = Posted(
        pk=int(txn_id), replayed=replayed == "t", balance=None if balance is None else int(balance)
    )
    if logged:
        fields = _log_fields(
            posted.pk, kind, idempotency_key, reference,
            [(spec.unit, leg.amount) for spec, leg in zip(specs, legs, strict=True)],
            [{"account": None if spec.system_id is None else int(spec.system_id),
              "user": leg.owner_id, "purpose": spec.purpose, "amount": leg.amount}
             for spec, leg in zip(specs, legs, strict=True)],
        )  # fmt: skip
        _ledger_logged(fields, replayed=posted.replayed, memo=memo, created_by_id=None)
    return posted


def _transfer_post_portable(*, legs: Sequence[OwnerLeg], **kwargs) -> Posted:
    """transfer_post through the ORM: resolve the accounts, then `transaction_post`."""
    from django.contrib.auth import get_user_model

    owners = {leg.owner_id for leg in legs if leg.owner_id is not None}
    users = get_user_model().objects.in_bulk(owners)
    resolved = [
        Leg(account=account_get(owner=users.get(leg.owner_id), purpose=leg.purpose), amount=leg.amount)
        for leg in legs
    ]  # fmt: skip
    txn = transaction_post(legs=resolved, **kwargs)
    payer = next((leg.account for leg in resolved if leg.account.purpose in CACHED_PURPOSES), None)
    balance = Account.objects.values_list("balance", flat=True).get(pk=payer.pk) if payer else None
    return Posted(pk=txn.pk, replayed=txn.replayed, balance=balance)


def _pg_array(items: list[str]) -> str:
    # Purposes and units are fixed identifiers and numbers are ints: nothing needs quoting.
    return "{" + ",".join(items) + "}"


WALLET_POST_SQL = (
    "SELECT txn_id, replayed, payer_balance FROM wallet_post(%s, %s, %s, %s, %s, %s::bigint[], "
    "%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::boolean[], %s)"
)


def database_refusal(exc: DatabaseError) -> errors.WalletError | None:
    """The wallet error a refusal raised by wallet_post stands for (None: not a refusal)."""
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None)
    if state == "GC002":
        return errors.AccountFrozen(errors.FROZEN)
    if state == "GC003":
        return errors.IdempotencyConflict(errors.KEY_REUSED)
    if state == "GC001":
        diag = cause.diag
        return errors.InsufficientFunds(
            errors.INSUFFICIENT_COINS.format(
                balance=int(diag.message_primary or 0), needed=int(diag.message_hint or 0)
            )
        )
    return None


@transaction.atomic(durable=True)
def ledger_rollup() -> int:
    """Fold the entries of derived accounts into their settled balance; returns accounts touched.

    On PostgreSQL a SHARE ROW EXCLUSIVE lock on the entry table waits for every in-flight
    writer to commit and holds new ones for the moment this takes, so no entry below the new
    watermark can appear later; the mode also conflicts with itself, so two roll-ups never
    fold the same entries twice. SQLite runs one writer at a time anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Entry._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    through = Entry.objects.aggregate(top=Max("id"))["top"] or 0
    sums = (
        Entry.objects.filter(id__gt=F("account__settled_through"), id__lte=through)
        .exclude(account__purpose__in=CACHED_PURPOSES)
        .values("account_id")
        .annotate(total=Sum("amount"))
    )
    touched = 0
    for row in sums:
        Account.objects.filter(pk=row["account_id"]).update(
            settled_balance=F("settled_balance") + row["total"], settled_through=through
        )
        touched += 1
    return touched


@dataclass
class AuditReport:
    transactions: int = 0
    entries: int = 0
    accounts: int = 0
    problems: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_audit() -> AuditReport:
    """Recompute every balance from its entries and check every transaction balances."""
    report = AuditReport(problems=[])
    report.transactions = Transaction.objects.count()
    report.entries = Entry.objects.count()
    report.accounts = Account.objects.count()

    unbalanced = (
        Entry.objects.values("transaction_id", "account__unit")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id")
    )
    for row in unbalanced:
        report.problems.append(
            f"transaction {row['transaction_id']}: {row['account__unit']} entries sum to {row['total']}"
        )
    # Entry.account and Entry.transaction have no database foreign key (see the model):
    # check them here.
    for model, field in ((Account, "account_id"), (Transaction, "transaction_id")):
        orphans = Entry.objects.filter(~Exists(model.objects.filter(pk=OuterRef(field))))
        for entry_id, missing in orphans.values_list("pk", field)[:20]:
            report.problems.append(
                f"entry {entry_id}: {model._meta.model_name} {missing} does not exist"
            )
    short = Transaction.objects.annotate(n=Count("entries")).filter(n__lt=2)
    for txn_id in short.values_list("pk", flat=True):
        report.problems.append(f"transaction {txn_id}: fewer than two entries")

    for account in Account.objects.annotate(
        total=Sum("entries__amount"),
        settled_total=Sum("entries__amount", filter=Q(entries__id__lte=F("settled_through"))),
    ).order_by("pk"):
        total = account.total or 0
        if account.purpose in CACHED_PURPOSES:
            if account.balance != total:
                report.problems.append(
                    f"account {account.pk} ({account}): cached balance {account.balance}, entries sum to {total}"
                )
            shown = account.balance
        else:
            settled = account.settled_total or 0
            if account.settled_balance != settled or account.balance != 0:
                report.problems.append(
                    f"account {account.pk} ({account}): settled {account.settled_balance} through "
                    f"entry {account.settled_through}, entries to there sum to {settled}"
                )
            shown = total
        if account.owner_id and account.purpose in NON_NEGATIVE_PURPOSES and shown < 0:
            report.problems.append(f"account {account.pk} ({account}): negative balance {shown}")
    return report


def legs(*pairs: Iterable) -> list[Leg]:
    """Shorthand: legs((account, amount), …)."""
    return [Leg(account=account, amount=amount) for account, amount in pairs]
