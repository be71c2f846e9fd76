"""What every page's chrome needs to know about the person looking at it."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from .selectors import may_go_live


def viewer(request):
    """The signed-in user's profile (avatar, handle), if any, and whether they may go live:
    the header offers "Go live" to creators and "Become a creator" to everybody else. The
    second is worked out only on a page that asks, and once (for an adult, a count of
    followers)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"viewer_profile": None, "viewer_may_go_live": False}
    return {
        "viewer_profile": getattr(user, "profile", None),
        "viewer_may_go_live": SimpleLazyObject(lambda: may_go_live(user=user)),
    }
