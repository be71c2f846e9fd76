"""The room's websocket: authenticate, join the room's group, decode frames, call services.

Every frame is a JSON object with a `type` (docs/protocol.md). Domain errors become `error`
frames; the connection stays open.
"""

from __future__ import annotations

import json
import time
import uuid

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.functional import LazyObject, empty

from wallet.exceptions import WalletError

from . import exceptions as errors
from . import realtime, selectors, services
from .exceptions import RoomError
from .models import RoomBan, Stream
from .realtime import hub


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
        reaches the room with the next coalesced `viewers` frame (realtime.viewers_changed)."""
        self.stream_id = int(self.scope["url_route"]["kwargs"]["stream_id"])
        self.user = _unwrapped(self.scope.get("user"))
        self.connection = uuid.uuid4().hex  # this connection, in the room's presence
        self.handle = None
        self.viewer = hub.Viewer(self.base_send, None, self._banned_here)
        await hub.join(self.stream_id, self.viewer)
        try:
            outcome, state = await self._room_state()
            if outcome == "joined":
                state["viewers"] = await realtime.aviewers_join(self.stream_id, self.connection)
                self.joined = True
        except BaseException:
            await hub.leave(self.stream_id, self.viewer)
            raise
        if outcome != "joined":
            await hub.leave(self.stream_id, self.viewer)
            if outcome == "banned":
                await self.accept()
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
            try:
                await database_sync_to_async(realtime.viewers_leave, thread_sensitive=False)(
                    self.stream_id, self.connection
                )
            finally:
                await hub.leave(self.stream_id, self.viewer)
                realtime.viewers_changed(self.stream_id, services.viewers_announce)

    # ------------------------------------------------------------------ frames in

    async def receive(self, text_data=None, bytes_data=None):
        try:
            frame = json.loads(text_data or "")
        except (TypeError, ValueError):
            await self.send_json(_error("bad_frame", "Frames are JSON objects with a type."))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_json(_error("bad_frame", "Frames are JSON objects with a type."))
            return
        handlers = {
            "gift.send": self.gift_send,
            "chat.send": self.chat_send,
            "moderate": self.moderate,
            "sync": self.sync,
        }
        handler = handlers.get(frame["type"])
        if handler is None:
            await self.send_json(
                _error("unknown_type", f"Unknown frame type {frame['type'][:40]!r}.")
            )
            return
        await handler(frame)

    def _needs_account(self) -> dict | None:
        if not self.user or not self.user.is_authenticated:
            return _error(errors.AUTH_REQUIRED[1], errors.AUTH_REQUIRED[0])
        return None

    async def gift_send(self, frame: dict):
        """The service checks the sender (signed in, verified) and everything else."""
        key = frame.get("key")
        key = key if isinstance(key, str) else None
        gift, quantity = frame.get("gift"), frame.get("quantity", 1)
        if not isinstance(gift, str) or not isinstance(quantity, int) or isinstance(quantity, bool):
            await self.send_json(
                _error("bad_frame", "gift.send needs a gift slug and an integer quantity.", key)
            )
            return
        try:
            result = await services.agift_send(
                sender=self.user, stream_id=self.stream_id, gift_slug=gift, quantity=quantity,
                key=key or "", anonymous=bool(frame.get("anonymous", False)),
            )  # fmt: skip
        except (RoomError, WalletError) as exc:
            await self.send_json(_error(exc.code, str(exc), key))
            return
        await self.send_json({"type": "gift.ok", "key": key, "balance": result.balance,
                              "replayed": result.replayed})  # fmt: skip

    async def chat_send(self, frame: dict):
        text = frame.get("text")
        if not isinstance(text, str):
            await self.send_json(_error("bad_frame", "chat.send needs text."))
            return
        try:
            await database_sync_to_async(services.chat_send)(
                user=self.user, stream_id=self.stream_id, text=text
            )
        except RoomError as exc:
            await self.send_json(_error(exc.code, str(exc)))

    async def moderate(self, frame: dict):
        """The creator or staff ban, mute or unban a viewer by handle."""
        if refusal := self._needs_account():
            await self.send_json(refusal)
            return
        action, handle = frame.get("action"), frame.get("handle")
        if action not in ("ban", "mute", "unban") or not isinstance(handle, str):
            await self.send_json(
                _error("bad_frame", "moderate needs an action (ban, mute, unban) and a handle.")
            )
            return
        try:
            await database_sync_to_async(services.room_moderate)(
                stream_id=self.stream_id, handle=handle, action=action, by=self.user
            )
        except RoomError as exc:
            await self.send_json(_error(exc.code, str(exc)))

    async def sync(self, frame: dict):
        """A client that saw a gap in `seq` asks for the room's state again: the state (held
        or read), then the room's frames since it (none twice: held meanwhile)."""
        self.viewer.hold()
        outcome, state = await self._room_state()
        if outcome != "joined":
            self.viewer.start()
            return
        state["viewers"] = await database_sync_to_async(realtime.viewers, thread_sensitive=False)(
            self.stream_id
        )
        await self.viewer.drained()
        await self.send_json(state)
        self.viewer.start(hub.since(self.stream_id, state["seq"]))

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
