"""The room's websocket: authenticate, join the room's group, decode frames, call services.

Every frame is a JSON object with a `type` (docs/protocol.md). Domain errors become `error`
frames; the connection stays open.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.functional import LazyObject, empty

from wallet.exceptions import WalletError

from . import exceptions as errors
from . import frames, realtime, selectors, services
from .exceptions import RoomError
from .models import RoomBan, Stream
from .realtime import hub, outage


def _error(code: str, message: str, key: str | None = None) -> dict:
    frame = {"type": "error", "code": code, "message": message}
    if key is not None:
        frame["key"] = key
    return frame


def _unwrapped(user):
    """The user AuthMiddleware found, out of its lazy wrapper: it is read on every frame and
    every gift, and each attribute read through the wrapper costs a proxy call."""
    wrapped = getattr(user, "_wrapped", empty) if isinstance(user, LazyObject) else user
    return user if wrapped is empty else wrapped


class RoomConsumer(AsyncWebsocketConsumer):
    # Room events reach the connection through the process's hub (realtime.hub), not the
    # channel layer: no channel, subscription or receive loop of its own per viewer.
    channel_layer_alias = "giftcast-rooms-use-the-hub"

    async def dispatch(self, message):
        """AsyncConsumer.dispatch without its close_old_connections before every message.

        Channels does that for handlers that use the database directly, as a call on the
        process's one shared sync thread: every frame in and every room event out (a gift in
        a room of 8 is 8 of them) queued there. Nothing here touches the database except
        through database_sync_to_async, which closes stale connections around each call
        itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        """Join: the viewer is in the process's room (realtime.hub) first, so nothing sent
        after the room's state is read is missed. The state every viewer shares is read once
        per hub.STATE_SECONDS and the room's frames since bring each viewer up to date: an
        anonymous viewer joining a room the process holds costs no database read and no
        worker thread; a signed-in one, one trip (ban, handle, balance). The new count
        reaches the room with the next coalesced `viewers` frame (realtime.viewers_changed).
        While Redis can't be reached the join is accepted and closed 4503 (try again later),
        which the client answers by reconnecting with backoff."""
        self.stream_id = int(self.scope["url_route"]["kwargs"]["stream_id"])
        self.user = _unwrapped(self.scope.get("user"))
        self.connection = uuid.uuid4().hex  # this connection, in the room's presence
        self.handle = None
        # Frames this connection may send (every type), and who it is for limits that span
        # connections: the account, or the visitor's address.
        self.budget = frames.Budget(settings.ROOM_FRAME_RATE_LIMIT)
        client = self.scope.get("client") or ("?",)
        signed_in = self.user is not None and self.user.is_authenticated
        self.who = self.user.pk if signed_in else f"ip:{client[0]}"
        self.viewer = hub.Viewer(self.base_send, None, self._banned_here)
        try:
            outcome, state = await self._join()
        except outage.REDIS_AWAY as exc:
            outage.away(f"room joins refused ({outage.TRY_AGAIN_LATER})", exc)
            await self.accept()
            await self.close(code=outage.TRY_AGAIN_LATER)
            return
        if outcome != "joined":
            # Accepted, then closed with a code the client reads (a refused handshake
            # reaches a browser as 1006 and nothing else): 4403 banned, 4404 no such room.
            await hub.leave(self.stream_id, self.viewer)
            await self.accept()
            if outcome == "banned":
                await self.send_json(
                    _error("banned", "You've been banned from this creator's rooms.")
                )
            await self.close(code=4403 if outcome == "banned" else 4404)
            return
        self.viewer.handle = self.handle
        await self.accept()
        await self.send_json(state)
        self.viewer.start(hub.since(self.stream_id, state["seq"]))
        realtime.viewers_changed(self.stream_id, services.viewers_announce, state["viewers"])

    async def _join(self) -> tuple[str, dict | None]:
        """Into the process's room, the room's state read, and (when "joined") into the
        room's presence with the count in the state. On any failure the viewer is out of the
        room again."""
        await hub.join(self.stream_id, self.viewer)
        try:
            outcome, state = await self._room_state()
            if outcome == "joined":
                state["viewers"] = await realtime.aviewers_join(self.stream_id, self.connection)
                self.joined = True
        except BaseException:
            await hub.leave(self.stream_id, self.viewer)
            raise
        return outcome, state

    async def _room_state(self) -> tuple[str, dict | None]:
        """("joined", the state to send without its viewer count), or ("missing" or
        "banned", None)."""
        held = hub.state_held(self.stream_id)
        signed_in = bool(self.user and self.user.is_authenticated)
        if held is not None and not signed_in:
            return "joined", dict(held[1])
        outcome, shared, personal, read_at = await database_sync_to_async(
            self._read, thread_sensitive=False
        )(held)
        if shared is not None and held is None:
            hub.state_keep(self.stream_id, shared, read_at)
        if outcome != "joined":
            return outcome, None
        return "joined", {**shared[1], **personal}

    def _read(self, held):
        """On a worker thread: the room's shared state unless `held`, and the viewer's own
        part (ban, handle, balance)."""
        read_at = time.monotonic()
        shared = held
        if shared is None:
            stream = Stream.objects.filter(pk=self.stream_id).first()
            if stream is None:
                return "missing", None, None, read_at
            shared = (stream.creator_id, self._shared_state(stream))
        personal = {}
        if self.user and self.user.is_authenticated:
            ban = selectors.ban_of(creator_id=shared[0], user_id=self.user.pk)
            if ban is not None and ban.kind == RoomBan.Kind.BAN:
                return "banned", shared, None, read_at
            self.handle = self.user.profile.handle
            from wallet.selectors import coin_balance

            personal["balance"] = coin_balance(user=self.user)
        return "joined", shared, personal, read_at

    async def _banned_here(self):
        """The room's `ban` frame named this viewer: it has been sent; now let them go."""
        await self.viewer.drained()
        await self.close(code=4403)

    async def disconnect(self, code):
        await self._leave()

    async def __call__(self, scope, receive, send):
        """An exception in a handler ends the connection without disconnect(): the viewer
        leaves the room on that path too (else the process renews a ghost for its life)."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    async def _leave(self):
        if getattr(self, "joined", False):
            self.joined = False
            # Shielded: daphne cancels an application 10 s after its client left, and again
            # each second; a leave cancelled halfway left the viewer present, renewed for good.
            await asyncio.shield(self._leave_room())

    async def _leave_room(self):
        try:
            await database_sync_to_async(realtime.viewers_leave, thread_sensitive=False)(
                self.stream_id, self.connection
            )
        except outage.REDIS_AWAY as exc:  # no longer renewed: it lapses within a minute
            outage.away("viewers left the room unannounced", exc)
        finally:
            await hub.leave(self.stream_id, self.viewer)
            realtime.viewers_changed(self.stream_id, services.viewers_announce)

    # ------------------------------------------------------------------ frames in

    async def receive(self, text_data=None, bytes_data=None):
        """One frame: counted against the connection's budget, decoded (livestreams.frames),
        handed to its handler. A connection far over its budget is closed (4429)."""
        over = self.budget.spend()
        if over:
            if over > self.budget.count:  # twice the budget: not a client that listens
                await self.close(code=4429)
            else:
                await self.send_json(_error("rate_limited", "Too many frames; slow down."))
            return
        try:
            frame = frames.frame_decode(text_data)
        except frames.BadFrame as exc:
            await self.send_json(_error(exc.code, str(exc), exc.key))
            return
        await self.HANDLERS[type(frame)](self, frame)

    def _needs_account(self) -> dict | None:
        if not self.user or not self.user.is_authenticated:
            return _error(errors.AUTH_REQUIRED[1], errors.AUTH_REQUIRED[0])
        return None

    async def gift_send(self, frame: frames.GiftSend):
        """The service checks the sender (signed in, verified) and everything else."""
        key = frame.key or None
        try:
            result = await services.agift_send(
                sender=self.user, stream_id=self.stream_id, gift_slug=frame.gift,
                quantity=frame.quantity, key=frame.key, anonymous=frame.anonymous,
            )  # fmt: skip
        except (RoomError, WalletError) as exc:
            await self.send_json(_error(exc.code, str(exc), key))
            return
        await self.send_json({"type": "gift.ok", "key": key, "balance": result.balance,
                              "replayed": result.replayed})  # fmt: skip

    async def chat_send(self, frame: frames.ChatSend):
        try:
            await database_sync_to_async(services.chat_send)(
                user=self.user, stream_id=self.stream_id, text=frame.text
            )
        except RoomError as exc:
            await self.send_json(_error(exc.code, str(exc)))

    async def moderate(self, frame: frames.Moderate):
        """The creator or staff ban, mute or unban a viewer by handle."""
        if refusal := self._needs_account():
            await self.send_json(refusal)
            return
        try:
            await database_sync_to_async(services.room_moderate)(
                stream_id=self.stream_id, handle=frame.handle, action=frame.action, by=self.user
            )
        except RoomError as exc:
            await self.send_json(_error(exc.code, str(exc)))

    async def sync(self, frame: frames.Sync):
        """A client that saw a gap in `seq` asks for the room's state again: the state (held
        or read), then the room's frames since it (none twice: held meanwhile). Syncs are
        limited per account, or per address for visitors (ROOM_SYNC_RATE_LIMIT, across their
        connections): past it the answer says when to ask again, as it does while Redis
        can't be reached (the room's seq and count live there)."""
        try:
            wait = await realtime.arate_wait("sync", self.who, settings.ROOM_SYNC_RATE_LIMIT)
            if wait:
                refusal = _error("rate_limited", "Too many syncs; ask again shortly.")
                await self.send_json({**refusal, "frame": "sync", "retry_after": wait})
                return
            self.viewer.hold()
            outcome, state = await self._room_state()
            if outcome == "joined":
                state["viewers"] = await database_sync_to_async(
                    realtime.viewers, thread_sensitive=False
                )(self.stream_id)
        except outage.REDIS_AWAY as exc:
            outage.away("syncs refused", exc)
            self.viewer.start()
            refusal = _error(errors.UNAVAILABLE[1], errors.UNAVAILABLE[0])
            await self.send_json({**refusal, "frame": "sync", "retry_after": 2})
            return
        if outcome != "joined":
            self.viewer.start()
            return
        await self.viewer.drained()
        await self.send_json(state)
        self.viewer.start(hub.since(self.stream_id, state["seq"]))

    HANDLERS = {
        frames.GiftSend: gift_send,
        frames.ChatSend: chat_send,
        frames.Moderate: moderate,
        frames.Sync: sync,
    }

    # ------------------------------------------------------------------ frames out

    async def send_json(self, content: dict):
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # ------------------------------------------------------------------ helpers (sync)

    def _shared_state(self, stream: Stream) -> dict:
        """The room's state as every viewer gets it (their count and balance are added)."""
        top, coins = selectors.ranking(stream=stream, limit=realtime.RANKING_SIZE)
        return {
            "type": "state",
            "seq": realtime.current_seq(stream.pk),
            "status": stream.status,
            "chat": selectors.recent_chat(stream=stream),
            "top": top,
            "coins": coins,
            "goal": stream.goal_coins,
        }
