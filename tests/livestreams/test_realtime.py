"""Room counters in the cache: one round trip on Redis, the same answers everywhere."""

from __future__ import annotations

import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from livestreams import realtime
from livestreams.realtime import adapters, boards, presence, scripts


def test_counters_count_and_expire_from_first_use():
    key = f"test:count:{time.time_ns()}"
    assert scripts._count((key, 3, 60), (key + ":b", 1, None)) == [3, 1]
    assert scripts._count((key, 2, 60)) == [5]
    assert cache.get(key) == 5  # plain integers, readable through the cache API
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = adapters.redis_client(backend)
        ttl = client.ttl(backend.make_and_validate_key(key))
        assert 0 < ttl <= 60  # set when the counter was made, not renewed by the second add
        assert client.ttl(backend.make_and_validate_key(key + ":b")) == -1  # no timeout: kept


def _label(name):
    return {"handle": name, "name": name.title(), "anonymous": False}


@pytest.fixture(params=["sync", "async"])
def room(request, room_frames):
    """A room announced to by broadcast_gift, or by abroadcast_gift (the websocket's gifts,
    on Redis only)."""
    if request.param == "async" and not realtime.boards_kept():
        pytest.skip("abroadcast_gift is for rooms on Redis (set REDIS_URL)")
    return Room(room_frames, request.param)


class Room:
    """A room's gifters as the database holds them, and what broadcast_gift sends to it."""

    def __init__(self, room_frames, mode="sync"):
        self.id = time.time_ns() % 10**9
        self.rows: dict[int, realtime.Gifter] = {}
        self.reads = 0
        self.frames = lambda: room_frames.of(self.id)
        self.mode = mode

    def gifters(self):
        self.reads += 1
        return list(self.rows.values())

    def gift(self, gifter_id, name, coins, *, sender_id=7, slug="rose", quantity=1):
        """A committed gift adding `coins` to row `gifter_id`; returns its two frames."""
        old = self.rows.get(gifter_id)
        row = realtime.Gifter(gifter_id, (old.coins if old else 0) + coins, _label(name))
        self.rows[gifter_id] = row
        return self.announce(row, sender_id=sender_id, slug=slug, quantity=quantity)

    def ranking(self):
        """The database's answer: the top 3 and the total."""
        self.reads += 1
        ordered = sorted(self.rows.values(), key=lambda g: (-g.coins, g.id))[:3]
        top = [{**g.label, "coins": g.coins} for g in ordered]
        return top, sum(g.coins for g in self.rows.values())

    def announce(self, row, *, sender_id=7, slug="rose", quantity=1):
        """The gift's frame as sent, and the ranking in it."""
        told = {"sender_id": sender_id, "slug": slug, "quantity": quantity, "gifter": row,
                "gifters": self.gifters}  # fmt: skip
        if self.mode == "async":
            (gift,) = async_to_sync(realtime.abroadcast_gift)(self.id, {"type": "gift"}, **told)
        else:
            (gift,) = realtime.broadcast_gift(
                self.id, {"type": "gift"}, **told, ranking=self.ranking
            )
        return gift, gift["ranking"]


def _top(ranking):
    return [(line["handle"], line["coins"]) for line in ranking["top"]], ranking["coins"]


def test_gift_broadcast_stamps_combo_and_consecutive_seq(room):
    realtime.broadcast(room.id, {"type": "viewers", "count": 1})
    gift, ranking = room.gift(1, "ann", 2, quantity=2)
    again, _ = room.gift(1, "ann", 3, quantity=3)
    other, _ = room.gift(1, "ann", 1, slug="lion")
    assert [e["seq"] for e in (gift, again, other)] == [2, 3, 4]
    assert (gift["combo"], again["combo"], other["combo"]) == (2, 5, 1)
    frames = room.frames()
    assert [e["type"] for e in frames] == ["viewers", "gift", "gift", "gift"]
    assert [e["seq"] for e in frames] == [1, 2, 3, 4]
    assert realtime.current_seq(room.id) == 4
    assert gift == {
        "type": "gift",
        "combo": 2,
        "seq": 2,
        "ranking": {"top": [{**_label("ann"), "coins": 2}], "coins": 2},
    }
    # What the room got is what broadcast_gift answered.
    assert frames[1:] == [gift, again, other]
    assert other["ranking"] == {"top": [{**_label("ann"), "coins": 6}], "coins": 6}


def test_ranking_follows_every_gift_in_coins_then_row_order(room):
    room.gift(5, "eve", 10)
    room.gift(2, "bob", 10)  # a tie: the older row (lower id) first
    room.gift(9, "zed", 4)
    _, ranking = room.gift(7, "kim", 1)
    assert _top(ranking) == ([("bob", 10), ("eve", 10), ("zed", 4)], 25)
    _, ranking = room.gift(7, "kim", 20)  # from outside the top to first
    assert _top(ranking) == ([("kim", 21), ("bob", 10), ("eve", 10)], 45)


def test_board_reads_the_database_only_to_build_itself(room):
    room.rows[3] = realtime.Gifter(3, 50, _label("old"))  # gifted before the board existed
    _, ranking = room.gift(4, "new", 5)
    assert _top(ranking) == ([("old", 50), ("new", 5)], 55)
    for coins in (1, 2, 3):
        _, ranking = room.gift(4, "new", coins)
    assert _top(ranking) == ([("old", 50), ("new", 11)], 61)
    if realtime.boards_kept():
        assert room.reads == 1  # on Redis: built once, then kept up by the gifts alone
    else:
        assert room.reads == 4  # one process without Redis: the database each time
    assert room.frames()[-1]["ranking"] == ranking


def test_room_frames_carry_any_text_intact(room_frames):
    """Frames are put together as text on Redis: quotes, backslashes, markup and emoji in
    names and gifts must reach the room unchanged (and as valid JSON)."""
    room = Room(room_frames)
    odd = 'Zoë "Z" \\ </script> 🎁'
    room.rows[1] = realtime.Gifter(1, 9, {"handle": "z", "name": odd, "anonymous": False})
    (gift,) = realtime.broadcast_gift(
        room.id, {"type": "gift", "name": odd, "sender": {"handle": None}, "big": False},
        sender_id=1, slug="rose", quantity=1, gifter=room.rows[1], gifters=room.gifters,
        ranking=room.ranking,
    )  # fmt: skip
    chat = realtime.broadcast(room.id, {"type": "chat", "text": odd, "user": {"level": 0}})
    assert room.frames() == [gift, *chat]
    assert gift["name"] == gift["ranking"]["top"][0]["name"] == chat[0]["text"] == odd


@pytest.mark.skipif(not realtime.boards_kept(), reason="the board lives on Redis (set REDIS_URL)")
def test_board_takes_totals_in_any_order_and_rebuilds_without_going_back(room):
    room.gift(1, "ann", 10)
    late = realtime.Gifter(1, 4, _label("ann"))  # an older total announced late
    _, ranking = room.announce(late)
    assert _top(ranking) == ([("ann", 10)], 10)
    # The board is lost (expired, evicted) while a gift is on its way: the rebuild reads
    # the database, which has not got the newest total yet, and keeps the newer one.
    backend = caches["default"]
    client = adapters.redis_client(backend)
    client.delete(*boards._board_keys(backend, room.id))
    room.rows[2] = realtime.Gifter(2, 7, _label("bob"))
    newest = realtime.Gifter(1, 30, _label("ann"))
    gift, ranking = room.announce(newest)  # the database still says 10 for ann
    assert _top(ranking) == ([("ann", 30), ("bob", 7)], 37)
    assert room.reads == 2
    assert room.frames()[-1] == gift  # the rebuild sent it
    ttl = client.ttl(boards._board_keys(backend, room.id)[0])
    assert 0 < ttl <= realtime.BOARD_SECONDS


@pytest.mark.skipif(not realtime.boards_kept(), reason="the board lives on Redis (set REDIS_URL)")
def test_relabel_changes_a_line_of_an_existing_board_only(room):
    realtime.board_relabel(room.id, 1, _label("ghost"))  # no board: nothing is made
    backend = caches["default"]
    client = adapters.redis_client(backend)
    assert not client.exists(*boards._board_keys(backend, room.id))
    room.gift(1, "ann", 3)
    hidden = {"handle": None, "name": "Anonymous", "anonymous": True}
    realtime.board_relabel(room.id, 1, hidden)
    _, ranking = room.gift(2, "bob", 1)
    assert ranking["top"][0] == {**hidden, "coins": 3}


@pytest.mark.parametrize(("uses", "limited"), [(3, False), (4, True)])
def test_rate_limit_window(uses, limited, time_machine):
    """Fixed windows on the clock: a window's uses are counted, the next one starts again
    (the clock is held, so a test can't straddle two windows by chance)."""
    time_machine.move_to(1_900_000_020, tick=False)
    user = time.time_ns() % 10**9 + uses
    results = [realtime.rate_limited("test", user, "3/60") for _ in range(uses)]
    assert results[-1] is limited and not any(results[:3])
    time_machine.move_to(1_900_000_020 + 59.9, tick=False)  # 1_900_000_020 is a window's start
    assert realtime.rate_limited("test", user, "3/60")
    time_machine.move_to(1_900_000_020 + 60, tick=False)
    assert not realtime.rate_limited("test", user, "3/60")


def test_viewers_count_joins_and_leaves_and_many_rooms_in_one_read():
    base = time.time_ns() % 10**9
    assert realtime.viewers_join(base, "a") == 1
    assert realtime.viewers_join(base, "b") == 2
    assert realtime.viewers_join(base + 1, "c") == 1
    assert realtime.viewers_leave(base, "a") == 1
    assert realtime.viewers_of([base, base + 1, base + 2]) == {base: 1, base + 1: 1, base + 2: 0}
    assert realtime.viewers(base) == 1


@pytest.mark.skipif(not realtime.boards_kept(), reason="presence lives on Redis (set REDIS_URL)")
def test_viewers_of_a_process_that_died_stop_counting(time_machine):
    """A process renews its own viewers; one that died (never said they left) loses its
    viewers once PRESENCE_SECONDS pass without a renewal, and only its own."""
    room = time.time_ns() % 10**9
    time_machine.move_to(1_900_000_000, tick=False)
    realtime.viewers_join(room, "ours")
    realtime.viewers_join(room, "theirs")
    # The other process dies: its viewer is no longer this process's to renew.
    presence._present[room].discard("theirs")
    time_machine.move_to(1_900_000_000 + realtime.PRESENCE_BEAT, tick=False)
    realtime.presence_beat()
    assert realtime.viewers(room) == 2  # not yet: within PRESENCE_SECONDS of its last renewal
    time_machine.move_to(1_900_000_000 + realtime.PRESENCE_SECONDS + 1, tick=False)
    assert realtime.viewers(room) == 1  # ours, renewed by the beat
    assert realtime.viewers_join(room, "new") == 2  # joins and leaves prune the set too
    time_machine.move_to(1_900_000_000 + 3 * realtime.PRESENCE_SECONDS, tick=False)
    realtime.presence_beat()
    assert realtime.viewers(room) == 2


def _during_first_read(room, action) -> threading.Thread:
    """`action` runs on another thread during the room's first database read (a first
    gift's gifters, to build the board; without Redis, its ranking), and is waited for half
    a second: done by then, unless it waits for the gift."""
    other = threading.Thread(target=action)

    def meanwhile(read):
        def wrapped():
            if other.ident is None:  # the first read only
                other.start()
                other.join(0.5)
            return read()

        return wrapped

    room.gifters, room.ranking = meanwhile(room.gifters), meanwhile(room.ranking)
    return other


def test_a_broadcast_while_a_first_gift_builds_its_board_keeps_seq_order(room):
    """A room's first gift reads the database between being counted and being sent. A
    broadcast from another thread meanwhile (the coalesced viewer count, a chat line) must
    not reach the room ahead of a lower seq: a viewer takes the later seq, asks for the state,
    and then drops the gift as already seen (the state has no gift lines), so the gift was
    never shown."""
    chat = _during_first_read(room, lambda: realtime.broadcast(room.id, {"type": "chat"}))
    gift, _ = room.gift(1, "ann", 2)
    chat.join(5)
    frames = room.frames()
    assert sorted(frame["type"] for frame in frames) == ["chat", "gift"]
    assert [frame["seq"] for frame in frames] == [1, 2], frames
    assert gift in frames


def test_two_sends_of_a_run_while_its_board_builds_keep_combo_and_seq_in_step(room):
    """Two sends of one run reach a room whose board is being built: the frame with the
    lower seq has the lower combo too, or a client's line for the run starts again (× 2, then
    a new line × 1) instead of growing."""
    second = _during_first_read(room, lambda: room.gift(1, "ann", 1))
    room.gift(1, "ann", 1)
    second.join(5)
    frames = room.frames()
    assert [(frame["seq"], frame["combo"]) for frame in frames] == [(1, 1), (2, 2)], frames
