"""Domain errors of live rooms; `code` is the word error frames carry (docs/protocol.md)."""


class RoomError(Exception):
    code = "room_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


NOT_LIVE = ("This stream has ended.", "not_live")
NOT_ELIGIBLE = (
    "You can't go live yet: see what's missing on the Become a creator page.",
    "not_eligible",
)
ALREADY_LIVE = ("You already have a live stream; end it first.", "already_live")
GIFT_UNKNOWN = ("That gift isn't available.", "gift_unavailable")
SELF_GIFT = ("You can't send gifts to your own stream.", "self_gift")
QUANTITY = ("Send between 1 and {high} at a time.", "bad_quantity")
BANNED = ("You've been banned from this creator's rooms.", "banned")
MUTED = ("You've been muted in this creator's rooms.", "muted")
RATE_LIMITED = ("Slow down a little and try again in a moment.", "rate_limited")
# While Redis, which counts the rooms' limits, can't be reached (realtime/outage.py).
UNAVAILABLE = ("The room can't take gifts or chat for a moment; try again shortly.", "unavailable")
CHAT_EMPTY = ("Write something first.", "empty_message")
CHAT_TOO_LONG = ("Messages can be {high} characters at most.", "message_too_long")
BAD_KEY = ("Every gift needs a fresh UUID key.", "bad_key")
NOT_ALLOWED = ("Only the creator and staff can do that.", "forbidden")
AUTH_REQUIRED = ("Sign in to take part.", "auth_required")
VERIFY_REQUIRED = ("Verify your email address first.", "verify_required")


def error(spec: tuple[str, str], **fmt) -> RoomError:
    message, code = spec
    return RoomError(message.format(**fmt), code=code)
