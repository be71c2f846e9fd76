"""gift_send: the one-call PostgreSQL path (gift_post) and the ORM path do the same thing."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from livestreams.models import RoomBan, SentGift, StreamGifter
from livestreams.services import gift_send
from tests.helpers import money_path
from tests.livestreams.factories import fan_with, live_stream
from wallet.ledger import _fingerprint, account_balance, account_get, ledger_audit
from wallet.models import Account, Entry, Purpose, Transaction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("books_balance"),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the one-call path is PostgreSQL's"
    ),
]


def _scenario(fast: bool, run_callbacks, room_frames) -> dict:
    """The same story on either path, normalised (ids replaced by roles) so runs compare."""
    stream = live_stream()
    star = stream.creator
    fan, other, banned = fan_with(100), fan_with(3), fan_with(50)
    fan.profile.display_name = "Fan One"
    fan.profile.save()
    RoomBan.objects.create(creator=star, user=banned, kind=RoomBan.Kind.BAN)
    role = {fan.pk: "fan", other.pk: "other", banned.pk: "banned", star.pk: "star", None: "system"}
    handles = {u.profile.handle: role[u.pk] for u in (fan, other, banned, star)}
    handles |= {f"@{handle}": f"@{who}" for handle, who in handles.items()}  # names by default
    key = str(uuid.uuid4())
    outcomes = []

    def norm(value):
        """Ids and handles differ between runs: compare by role."""
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items() if k != "id"}
        if isinstance(value, list | tuple):
            return type(value)(norm(v) for v in value)
        return handles.get(value, value) if isinstance(value, str) else value

    def send(label, user, slug, quantity=1, key=None, stream_id=stream.pk, anonymous=False):
        try:
            with run_callbacks(execute=True), money_path(fast):
                result = gift_send(
                    sender=user, stream_id=stream_id, gift_slug=slug, quantity=quantity,
                    key=key or str(uuid.uuid4()), anonymous=anonymous,
                )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the scenario records each refusal
            outcomes.append((label, type(exc).__name__, str(exc)))
            return
        event = norm(result.event)
        sent = result.sent
        outcomes.append(
            (label, result.replayed, result.balance, event, sent.gift.slug, sent.quantity,
             sent.coins, sent.diamonds, sent.anonymous)
        )  # fmt: skip

    rose_key = str(uuid.uuid4())
    # The fan's running total in the stream (named and anonymous together) and what each
    # send earns: floor(new total / 2) - floor(old total / 2).
    send("perfume", fan, "perfume", quantity=3, key=key)  # 60: 30
    send("replay", fan, "perfume", quantity=3, key=key)
    send("conflict", fan, "rose", quantity=1, key=key)
    send("rose", fan, "rose")  # 61: 0 diamonds, a two-leg transaction
    send("rose-2", fan, "rose", key=rose_key)  # 62: 1
    send("anonymous-rose", fan, "rose", anonymous=True)  # 63: 0
    send("anonymous", fan, "finger-heart", anonymous=True)  # 68: 3
    send("rose-replay", fan, "rose", key=rose_key)  # as first sent (1), though 68 -> 69 is 0
    send("other-rose", other, "rose")  # the other fan's own total, 1: 0
    send("short", other, "doughnut")
    send("self", star, "rose")
    send("banned", banned, "rose")
    send("unknown", fan, "no-such-gift")
    send("no-stream", fan, "rose", stream_id=10**9)
    Account.objects.filter(owner=fan, purpose=Purpose.WALLET).update(frozen=True)
    send("frozen", fan, "rose")
    Account.objects.filter(owner=fan, purpose=Purpose.WALLET).update(frozen=False)
    stream.status = "ended"
    stream.save()
    send("ended", fan, "rose")

    ledger = []
    for txn in Transaction.objects.filter(kind="gift", reference=f"stream:{stream.pk}").order_by(
        "pk"
    ):
        ledger.append((txn.reference == f"stream:{stream.pk}", txn.memo, txn.fingerprint, sorted(
            (role[e.account.owner_id], e.account.purpose, e.amount)
            for e in Entry.objects.filter(transaction=txn).select_related("account")
        )))  # fmt: skip
    return {
        "outcomes": outcomes,
        "frames": norm(room_frames.of(stream.pk)),
        "ledger": [(ok, memo.split(" to @")[0], entries) for ok, memo, _, entries in ledger],
        "fingerprints_differ_per_send": len({fp for *_, fp, _ in ledger}) == len(ledger),
        "sent": sorted(
            (role[g.sender_id], g.gift.slug, g.quantity, g.coins, g.diamonds, g.anonymous)
            for g in SentGift.objects.filter(stream=stream)
        ),
        "gifters": sorted(
            (role[g.sender_id], g.anonymous, g.coins)
            for g in StreamGifter.objects.filter(stream=stream)
        ),
        "balances": {
            "fan": account_balance(account_get(owner=fan, purpose=Purpose.WALLET)),
            "star": account_balance(account_get(owner=star, purpose=Purpose.EARNINGS)),
        },
    }


def test_one_call_and_orm_paths_do_the_same(django_capture_on_commit_callbacks, room_frames):
    fast = _scenario(True, django_capture_on_commit_callbacks, room_frames)
    orm = _scenario(False, django_capture_on_commit_callbacks, room_frames)
    assert fast == orm
    assert [o[0] for o in fast["outcomes"] if len(o) == 3] == [
        "conflict", "short", "self", "banned", "unknown", "no-stream", "frozen", "ended",
    ]  # fmt: skip
    assert fast["balances"] == {"fan": 100 - 60 - 1 - 1 - 1 - 5, "star": 30 + 0 + 1 + 0 + 3}
    assert [o[7] for o in fast["outcomes"] if len(o) > 3] == [30, 30, 0, 1, 0, 3, 1, 0]
    # Per fan, the diamonds are the floored share of all their coins in the stream.
    assert sum(d for who, *_, d, _ in fast["sent"] if who == "fan") == 68 // 2
    assert sum(d for who, *_, d, _ in fast["sent"] if who == "other") == 1 // 2
    assert fast["frames"][0]["combo"] == 3 and fast["frames"][0]["seq"] == 1
    assert fast["frames"][0]["ranking"] == {
        "top": [{"handle": "fan", "name": "Fan One", "anonymous": False, "coins": 60}],
        "coins": 60,
    }
    assert [f["seq"] for f in fast["frames"]] == [1, 2, 3, 4, 5, 6]  # one frame per gift
    assert ledger_audit().ok


def test_the_one_call_path_writes_the_orm_paths_fingerprint(
    django_capture_on_commit_callbacks, room_frames
):
    """Replays compare fingerprints: gift_post must compute wallet.ledger's, byte for byte."""
    _scenario(True, django_capture_on_commit_callbacks, room_frames)
    txns = Transaction.objects.filter(kind="gift").prefetch_related("entries__account")
    assert len(txns) == 6
    for txn in txns:
        legs = [(e.account.owner_id, e.account.purpose, e.amount) for e in txn.entries.all()]
        assert txn.fingerprint == _fingerprint("gift", txn.reference, legs)


def test_the_installed_gift_post_takes_turns_per_fan_and_stream():
    """The share's version (migration 0009 on), not 0008's (the file itself:
    tests/config/test_sql_files.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'gift_post'")
        assert "pg_advisory_xact_lock" in cursor.fetchone()[0]


def test_the_gift_post_migrations_go_back_to_the_per_gift_floor():
    from tests.config.test_sql_files import FUNCTIONS, _definition, _definition_of_file

    path = "livestreams/sql/gift_post.sql"
    GIFT_POST = FUNCTIONS[path]
    executor = MigrationExecutor(connection)
    newest = executor.loader.graph.leaf_nodes()  # every app: going back unapplies payouts too
    try:
        executor.migrate([("livestreams", "0009_gift_post_exact_share")])
        exact = _definition(f"public.{GIFT_POST}")
        assert "pg_advisory_xact_lock" in exact and "enable_seqscan" not in exact
        MigrationExecutor(connection).migrate([("livestreams", "0008_gift_post_gifter_total")])
        assert "diamonds := floor(coins * p_share);" in _definition(f"public.{GIFT_POST}")
    finally:
        MigrationExecutor(connection).migrate(newest)
    assert _definition(f"public.{GIFT_POST}") == _definition_of_file(path, GIFT_POST)
