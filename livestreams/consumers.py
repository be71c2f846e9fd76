"""The room's websocket: authenticate, join the room's group, decode frames, call services.

Every frame is a JSON object with a `type` (docs/protocol.md). Domain errors become `error`
frames; the connection stays open.
"""

from __future__ import annotations

import json

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.functional import LazyObject, empty

from wallet.exceptions import WalletError

from . import exceptions as errors
from . import realtime, selectors, services
from .exceptions import RoomError
from .models import RoomBan, Stream


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
        """Join in one trip to a worker thread: the stream, a ban, the viewer's handle, their
        presence and the room's state. The room's group is joined first, so nothing sent
        after the state is read is missed; the new count reaches the room with the next
        coalesced `viewers` frame (realtime.viewers_changed)."""
        self.stream_id = int(self.scope["url_route"]["kwargs"]["stream_id"])
        self.user = _unwrapped(self.scope.get("user"))
        self.group = realtime.group_name(self.stream_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        outcome, state = await database_sync_to_async(self._join, thread_sensitive=False)()
        if outcome != "joined":
            await self.channel_layer.group_discard(self.group, self.channel_name)
            if outcome == "banned":
                await self.accept()
                await self.send_json(
                    _error("banned", "You've been banned from this creator's rooms.")
                )
            await self.close(code=4403 if outcome == "banned" else 4404)
            return
        await self.accept()
        self.joined = True
        await self.send_json(state)
        realtime.viewers_changed(self.stream_id, services.viewers_announce)

    def _join(self) -> tuple[str, dict | None]:
        stream = Stream.objects.filter(pk=self.stream_id).first()
        if stream is None:
            return "missing", None
        if self.user and self.user.is_authenticated:
            ban = selectors.ban_of(creator_id=stream.creator_id, user_id=self.user.pk)
            if ban is not None and ban.kind == RoomBan.Kind.BAN:
                return "banned", None
            self.handle = self.user.profile.handle
        else:
            self.handle = None
        count = realtime.viewers_join(self.stream_id, self.channel_name)
        return "joined", self._state(stream, count)

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
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await database_sync_to_async(realtime.viewers_leave, thread_sensitive=False)(
                self.stream_id, self.channel_name
            )
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
        """A client that saw a gap in `seq` asks for the room's state again."""
        await self.send_json(await database_sync_to_async(self._resync, thread_sensitive=False)())

    def _resync(self) -> dict:
        stream = Stream.objects.get(pk=self.stream_id)
        return self._state(stream, realtime.viewers(self.stream_id))

    # ------------------------------------------------------------------ frames out

    async def room_events(self, message: dict):
        """Frames broadcast to the room (realtime.broadcast), in their `seq` order, each as the
        text every viewer is sent. A viewer who is banned gets the ban, then is let go."""
        for text in message["frames"]:
            await self.send(text_data=text)
            if self.handle is not None and '"moderation"' in text:  # only then worth parsing
                event = json.loads(text)
                if (
                    event.get("type") == "moderation"
                    and event.get("action") == RoomBan.Kind.BAN
                    and event["user"]["handle"] == self.handle
                ):
                    await self.close(code=4403)
                    return

    async def send_json(self, content: dict):
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # ------------------------------------------------------------------ helpers (sync)

    def _state(self, stream: Stream, count: int) -> dict:
        from wallet.selectors import coin_balance

        top, coins = selectors.ranking(stream=stream, limit=realtime.RANKING_SIZE)
        state = {
            "type": "state",
            "seq": realtime.current_seq(stream.pk),
            "status": stream.status,
            "viewers": count,
            "chat": selectors.recent_chat(stream=stream),
            "top": top,
            "coins": coins,
            "goal": stream.goal_coins,
        }
        if self.user and self.user.is_authenticated:
            state["balance"] = coin_balance(user=self.user)
        return state
