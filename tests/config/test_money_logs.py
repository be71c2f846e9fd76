"""The money log: one record per money event (a recharge, a gift, a clawback, each step of a
payout, a staff adjustment), written once the database transaction commits, carrying the
ledger transaction's idempotency key and what it moved; JSON in production, key=value in
development (config/logs.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from config.logs import MONEY_LOGGER, JSONFormatter, KeyValueFormatter, money_log
from livestreams import realtime
from livestreams import services as gifts
from payouts.models import PayoutStatus
from payouts.services import payout_approve, payout_request, payout_transition
from tests.accounts.factories import UserFactory
from tests.helpers import money_path
from tests.livestreams.factories import fan_with, live_stream
from tests.payouts.factories import earning_creator, send, sent_at
from tests.wallet.factories import fund
from wallet.demo import paid_recharge
from wallet.exceptions import InsufficientFunds
from wallet.ledger import OwnerLeg, transfer_post
from wallet.models import Purpose, Recharge, RechargeStatus, Transaction, TransactionKind, Unit
from wallet.payments import sign_payload
from wallet.services import adjustment_post, recharge_close, recharge_refund
from wallet.webhooks import webhook_receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = connection.vendor == "postgresql"
BOTH_PATHS = pytest.mark.parametrize(
    "fast",
    [
        pytest.param(True, id="gift_post", marks=pytest.mark.skipif(
            not ON_POSTGRES, reason="the database-function path is PostgreSQL's")),
        pytest.param(False, id="portable"),
    ],
)  # fmt: skip


class MoneyLog:
    """The money log's records as the test goes: `take()` returns the fields of those
    written since the last take."""

    def __init__(self, caplog):
        self._caplog = caplog
        caplog.set_level(logging.INFO, logger=MONEY_LOGGER)

    def records(self) -> list[logging.LogRecord]:
        return [r for r in self._caplog.records if r.name == MONEY_LOGGER and hasattr(r, "money")]

    def take(self) -> list[dict]:
        taken = [record.money for record in self.records()]
        self._caplog.clear()
        return taken


@pytest.fixture
def money(caplog):
    return MoneyLog(caplog)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks of what the block does, as its commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _has(record: dict, **expected) -> None:
    """The record holds these fields with these values (others may follow)."""
    assert {name: record.get(name, "<missing>") for name in expected} == expected


def _legs(record: dict) -> list[tuple]:
    """(owner, purpose, amount) of each leg, in the order of their purposes."""
    legs = [(leg["user"], leg["purpose"], leg["amount"]) for leg in record["legs"]]
    return sorted(legs, key=lambda leg: leg[1:])


def _ledger(record: dict) -> Transaction:
    """The transaction a record names, held to the key and reference it gives."""
    txn = Transaction.objects.get(pk=record["txn_id"])
    assert (txn.idempotency_key, txn.reference, txn.kind) == (
        record["key"], record["reference"], record["kind"],
    )  # fmt: skip
    return txn


def _charge_event(recharge, event_id: str, type: str = "charge.refunded") -> int:
    charge = {
        "id": f"ch_{recharge.pk}", "object": "charge", "payment_intent": recharge.payment_intent_id,
        "amount": recharge.amount_minor, "amount_refunded": recharge.amount_minor,
    }  # fmt: skip
    if type == "charge.dispute.created":
        charge = {"id": "dp_1", "object": "dispute", "charge": charge["id"],
                  "payment_intent": recharge.payment_intent_id, "amount": recharge.amount_minor}  # fmt: skip
    event = {"id": event_id, "object": "event", "type": type, "data": {"object": charge}}
    payload = json.dumps(event)
    return webhook_receive(payload=payload.encode(), signature=sign_payload(payload)).status_code


# ----------------------------------------------------------------------------- recharges


def test_a_recharge_is_one_record_with_the_credits_key_and_its_money(user, money, committed):
    with committed():
        recharge = paid_recharge(user=user, session_id="cs_sim_money_log", coins=350)
    (record,) = money.take()
    assert _ledger(record).idempotency_key == f"recharge:{recharge.pk}"
    _has(record, event="recharge.paid", kind="recharge", coins=350, diamonds=0,
         recharge_id=recharge.pk, user_id=user.pk, from_status="pending", status="paid",
         amount_minor=370, currency="USD", provider="simulated")  # fmt: skip
    assert _legs(record) == [(None, "coins_issued", -350), (user.pk, "wallet", 350)]
    assert record["provider_event_id"].startswith("evt_")


def test_a_refund_clawback_is_one_record_with_the_clawbacks_key(user, money, committed):
    recharge = paid_recharge(user=user, session_id="cs_sim_money_refund", coins=350)
    with committed():
        recharge_refund(user=user, recharge_id=recharge.pk)
    (record,) = money.take()
    assert _ledger(record).idempotency_key == f"clawback:{recharge.pk}"
    _has(record, event="recharge.refunded", kind="refund", coins=350, from_status="paid",
         status="refunded", amount_minor=370, currency="USD", user_id=user.pk)  # fmt: skip
    assert _legs(record) == [(None, "coins_issued", 350), (user.pk, "wallet", -350)]


def test_a_dispute_logs_its_clawback_and_each_gift_reversal_once(user, money, committed):
    """5,000 coins bought, a Galaxy (1,000) sent: the dispute claws back 4,000 from the
    wallet and 1,000 as debt, and reverses the Galaxy's 500 diamonds. A refund after it
    moves nothing: a status record with no key and no amounts."""
    recharge = paid_recharge(user=user, session_id="cs_sim_money_dispute")
    recharge.refresh_from_db()
    stream = live_stream()
    galaxy = send(user, stream, "galaxy").sent
    with committed():
        assert _charge_event(recharge, "evt_money_dispute", "charge.dispute.created") == 200
    records = {record["event"]: record for record in money.take()}
    assert sorted(records) == ["gift.reversed", "recharge.disputed"]  # each once, no more
    clawback, reversal = records["recharge.disputed"], records["gift.reversed"]
    assert _ledger(clawback).idempotency_key == f"clawback:{recharge.pk}"
    _has(clawback, kind="dispute", coins=5000, amount_minor=5285, currency="USD", status="disputed")
    assert _legs(clawback) == [(user.pk, "clawback", -1000), (None, "coins_issued", 5000),
                               (user.pk, "wallet", -4000)]  # fmt: skip
    assert _ledger(reversal).idempotency_key == f"reversal:{galaxy.pk}"
    _has(reversal, kind="gift_reversal", diamonds=500, coins=0, sent_id=galaxy.pk,
         user_id=stream.creator_id, fan_id=user.pk, recharge_id=recharge.pk)  # fmt: skip

    with committed():
        assert _charge_event(recharge, "evt_money_refund_after") == 200
    (after,) = money.take()
    assert (after["event"], after["from_status"], after["reference"]) == (
        "recharge.refunded", "disputed", f"recharge:{recharge.pk}",
    )  # fmt: skip
    assert not {"txn_id", "key", "coins", "diamonds"} & set(after)


def test_a_recharge_that_fails_is_a_status_record_without_a_movement(user, money, committed):
    recharge = Recharge.objects.create(
        user=user, coins=350, amount_minor=370, currency="USD", provider="simulated",
        provider_session_id="cs_sim_money_fails",
    )  # fmt: skip
    with committed():
        recharge_close(session_id="cs_sim_money_fails", to=RechargeStatus.FAILED, note="declined")
    (record,) = money.take()
    _has(record, event="recharge.failed", from_status="pending", status="failed",
         note="declined", amount_minor=370, currency="USD",
         reference=f"recharge:{recharge.pk}")  # fmt: skip
    assert "key" not in record and "coins" not in record


# ----------------------------------------------------------------------------- gifts


@BOTH_PATHS
def test_a_gift_is_one_record_with_its_ledger_key_on_either_path(fast, money, committed):
    stream, fan, key = live_stream(), fan_with(100), str(uuid.uuid4())
    with committed(), money_path(fast):
        result = gifts.gift_send(
            sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=3, key=key
        )
    (record,) = money.take()
    txn = _ledger(record)
    assert txn.pk == result.sent.transaction_id
    assert {name: value for name, value in record.items() if name != "txn_id"} == {
        "event": "gift.sent", "kind": "gift", "key": f"gift:{fan.pk}:{key}",
        "reference": f"stream:{stream.pk}", "coins": 60, "diamonds": 30, "user_id": fan.pk,
        "stream_id": stream.pk, "sent_id": result.sent.pk, "gift": "perfume", "quantity": 3,
        "anonymous": False, "balance": 40,
    }  # fmt: skip

    # The same key again moves nothing, and says so: no amounts.
    with committed(), money_path(fast):
        gifts.gift_send(sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=3, key=key)
    (replay,) = money.take()
    assert (replay["event"], replay["key"], replay["txn_id"]) == (
        "gift.replayed", f"gift:{fan.pk}:{key}", txn.pk,
    )  # fmt: skip
    assert "coins" not in replay and "diamonds" not in replay


@BOTH_PATHS
def test_logging_a_gift_costs_no_query(fast, money, committed, monkeypatch):
    """The record is made of what the post returned: a gift makes the same queries with the
    money log on as with it off."""
    stream, fan = live_stream(), fan_with(100)
    fan.profile  # noqa: B018 - loaded, as a signed-in request has it

    def queries(logged: bool) -> int:
        monkeypatch.setattr(logging.getLogger(MONEY_LOGGER), "disabled", not logged)
        with CaptureQueriesContext(connection) as seen, committed(), money_path(fast):
            # 20 coins, 10 diamonds each time: every gift writes the same rows
            gifts.gift_send(sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=1,
                            key=str(uuid.uuid4()))  # fmt: skip
        return len(seen)

    queries(logged=False)  # the first gift makes the creator's accounts and the fan's total
    assert queries(logged=True) == queries(logged=False)
    assert [r["event"] for r in money.take()] == ["gift.sent"]


@BOTH_PATHS
def test_a_refused_gift_is_not_logged(fast, money, committed):
    stream, fan = live_stream(), fan_with(5)
    with committed(), money_path(fast), pytest.raises(InsufficientFunds):
        gifts.gift_send(sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=1,
                        key=str(uuid.uuid4()))  # fmt: skip
    assert money.take() == []


@pytest.mark.skipif(
    not ON_POSTGRES or not realtime.boards_kept(),
    reason="the websocket's own path is for PostgreSQL with rooms on Redis",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_websocket_gift_is_one_record_too(money):
    stream, fan, key = live_stream(), fan_with(100), str(uuid.uuid4())
    fan.profile  # noqa: B018 - loaded, as the websocket has it
    assert [r["event"] for r in money.take()] == ["ledger.recharge"]  # the fan's coins, committed
    result = async_to_sync(gifts.agift_send)(
        sender=fan, stream_id=stream.pk, gift_slug="perfume", quantity=3, key=key
    )
    (record,) = money.take()
    assert _ledger(record).pk == result.sent.transaction_id
    assert (record["event"], record["key"], record["coins"], record["diamonds"]) == (
        "gift.sent", f"gift:{fan.pk}:{key}", 60, 30,
    )  # fmt: skip


# ----------------------------------------------------------------------------- payouts


def test_a_payout_journey_is_one_record_per_step(money, committed):
    owner, stream, _ = earning_creator(gifts=10)  # 5,000 diamonds
    sent_at(stream, dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    staff = UserFactory(is_staff=True)

    def step(action) -> dict:
        with committed():
            action()
        (record,) = money.take()
        return record

    payout = None

    def request():
        nonlocal payout
        payout = payout_request(creator=owner, diamonds=2_000, key=str(uuid.uuid4()))

    requested = step(request)
    assert _ledger(requested).idempotency_key == f"payout:{payout.pk}:request"
    _has(requested, event="payout.requested", kind="payout_request", coins=0, diamonds=2_000,
         payout_id=payout.pk, user_id=owner.pk, from_status="", status="requested",
         amount_minor=1_000, currency="USD", by=owner.pk)  # fmt: skip
    assert _legs(requested) == [(owner.pk, "earnings", -2_000), (owner.pk, "payout_hold", 2_000)]

    approved = step(lambda: payout_approve(payout_id=payout.pk, by=staff))
    _has(approved, event="payout.approved", from_status="requested", status="approved",
         by=staff.pk, reference=f"payout:{payout.pk}", amount_minor=1_000)  # fmt: skip
    assert not {"txn_id", "key", "diamonds"} & set(approved)  # nothing moved

    paid = step(lambda: payout_transition(
        payout_id=payout.pk, to=PayoutStatus.PAID, by=staff, reference="PP-123"))  # fmt: skip
    assert _ledger(paid).idempotency_key == f"payout:{payout.pk}:paid"
    assert (paid["event"], paid["diamonds"], paid["provider_reference"], paid["by"]) == (
        "payout.paid", 2_000, "PP-123", staff.pk,
    )  # fmt: skip
    assert _legs(paid) == [(None, "diamonds_redeemed", 2_000), (owner.pk, "payout_hold", -2_000)]

    # Sent, then failed at the bank (what a reversed transfer leads to): the diamonds back.
    request()
    step(lambda: payout_approve(payout_id=payout.pk, by=staff))
    sent = step(lambda: payout_transition(
        payout_id=payout.pk, to=PayoutStatus.PROCESSING, by=staff, reference="tr_1"))  # fmt: skip
    assert (sent["event"], sent["provider_reference"]) == ("payout.processing", "tr_1")
    failed = step(lambda: payout_transition(
        payout_id=payout.pk, to=PayoutStatus.FAILED, by=None, note="Bank refused"))  # fmt: skip
    assert _ledger(failed).idempotency_key == f"payout:{payout.pk}:return"
    assert (failed["event"], failed["kind"], failed["diamonds"], failed["note"], failed["by"]) == (
        "payout.failed", "payout_rejection", 2_000, "Bank refused", None,
    )  # fmt: skip


# ----------------------------------------------------------------------------- the ledger


def test_a_staff_adjustment_is_one_record_with_its_reason(user, money, committed):
    staff = UserFactory(is_staff=True)
    with committed():
        txn = adjustment_post(owner=user, unit=Unit.COIN, amount=25, reason="Goodwill", staff=staff)
    (record,) = money.take()
    assert _ledger(record).pk == txn.pk
    _has(record, event="ledger.adjustment", kind="adjustment", coins=25, memo="Goodwill",
         created_by=staff.pk, reference=f"user:{user.pk}")  # fmt: skip
    assert _legs(record) == [(None, "coin_adjustments", -25), (user.pk, "wallet", 25)]


def test_a_rolled_back_movement_is_never_logged(user, money, committed):
    with committed():
        with pytest.raises(RuntimeError), transaction.atomic():
            fund(user, 50, key="money-log-rolled-back")
            raise RuntimeError
        fund(user, 7, key="money-log-kept")
    assert [(r["event"], r["key"], r["coins"]) for r in money.take()] == [
        ("ledger.recharge", "money-log-kept", 7)
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_only_a_committed_movement_reaches_the_log(money):
    """The same with real commits, not captured callbacks."""
    user = UserFactory()
    money.take()
    with pytest.raises(RuntimeError), transaction.atomic():
        fund(user, 50, key="money-log-rolled-back-for-real")
        raise RuntimeError
    assert money.take() == []
    fund(user, 7, key="money-log-committed")
    assert [(r["event"], r["key"], r["coins"]) for r in money.take()] == [
        ("ledger.recharge", "money-log-committed", 7)
    ]


def test_a_replayed_key_is_logged_as_a_replay_without_amounts(user, money, committed):
    first = fund(user, 7, key="money-log-replay")
    with committed():
        fund(user, 7, key="money-log-replay")
    (record,) = money.take()
    assert record == {"event": "ledger.replayed", "txn_id": first.pk, "kind": "recharge",
                      "key": "money-log-replay", "reference": "test"}  # fmt: skip


def test_a_gift_that_fails_after_its_ledger_post_is_not_logged(money, committed, monkeypatch):
    """The portable path posts the ledger transaction, then writes the gift's rows: a failure
    there rolls the whole gift back, and the log never hears of it."""

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gifts, "_gifter_add", broken)
    stream, fan = live_stream(), fan_with(100)
    with committed(), money_path(False), pytest.raises(RuntimeError):
        gifts.gift_send(sender=fan, stream_id=stream.pk, gift_slug="rose", quantity=1,
                        key=str(uuid.uuid4()))  # fmt: skip
    assert money.take() == []
    assert not Transaction.objects.filter(kind=TransactionKind.GIFT).exists()


@BOTH_PATHS
def test_transfer_post_logs_once_on_either_path(fast, user, money, committed):
    legs = [OwnerLeg(None, Purpose.COINS_ISSUED, -9), OwnerLeg(user.pk, Purpose.WALLET, 9)]
    with committed(), money_path(fast):
        transfer_post(kind=TransactionKind.RECHARGE, idempotency_key="money-log-transfer",
                      legs=legs, reference="test")  # fmt: skip
    (record,) = money.take()
    _ledger(record)
    assert (record["event"], record["coins"], _legs(record)) == (
        "ledger.recharge", 9, [(None, "coins_issued", -9), (user.pk, "wallet", 9)],
    )  # fmt: skip


# ----------------------------------------------------------------------------- formatters


def _record_of_a_recharge(user, money, committed) -> logging.LogRecord:
    with committed():
        paid_recharge(user=user, session_id="cs_sim_money_format", coins=350)
    (record,) = money.records()
    return record


def test_the_json_formatter_writes_one_parseable_object_a_line(user, money, committed):
    record = _record_of_a_recharge(user, money, committed)
    line = JSONFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    _has(data, level="INFO", logger="giftcast.money", message="recharge.paid",
         event="recharge.paid", key=record.money["key"], txn_id=record.money["txn_id"],
         coins=350, amount_minor=370, currency="USD")  # fmt: skip
    stamp = dt.datetime.fromisoformat(data["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs(stamp.timestamp() - record.created) < 0.001
    assert data["legs"] == record.money["legs"]


def test_the_key_value_formatter_writes_one_readable_line(user, money, committed):
    record = _record_of_a_recharge(user, money, committed)
    record.money = {**record.money, "note": 'two\nlines and "quotes"'}
    line = KeyValueFormatter("%(levelname)s %(name)s %(message)s").format(record)
    assert "\n" not in line
    assert line.startswith("INFO giftcast.money recharge.paid txn_id=")
    assert f" key={record.money['key']} " in line and " coins=350 " in line
    assert " currency=USD " in line and "event=" not in line
    assert ' note="two\\nlines and \\"quotes\\""' in line


def test_a_field_never_replaces_the_json_formatters_own(caplog):
    caplog.set_level(logging.INFO, logger=MONEY_LOGGER)
    money_log("ledger.recharge", {"message": "not this", "level": "nor this"})
    data = json.loads(JSONFormatter().format(caplog.records[-1]))
    assert (data["message"], data["level"]) == ("ledger.recharge", "INFO")
    assert (data["field.message"], data["field.level"]) == ("not this", "nor this")


def test_development_settings_write_key_value_lines():
    formatters = [handler.formatter for handler in logging.getLogger().handlers]
    assert any(isinstance(formatter, KeyValueFormatter) for formatter in formatters)


def test_production_settings_write_json_lines():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "k3J9x!vQ2m#pL8zR4tW7yB1nC6fH0dS5gA2eU9iO3kM7qX4wZ8vT1rY6uP0lN5jE",
        "DJANGO_ALLOWED_HOSTS": "giftcast.example.com",
        "STRIPE_SECRET_KEY": "sk_test_giftcast_logs_check",
        "STRIPE_WEBHOOK_SECRET": "whsec_giftcast_logs_check",
    }
    code = "from config.logs import money_log; money_log('ledger.recharge', {'key': 'k-1', 'coins': 5})"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stderr.strip().splitlines()[-1])
    _has(data, level="INFO", logger="giftcast.money", message="ledger.recharge",
         event="ledger.recharge", key="k-1", coins=5)  # fmt: skip
