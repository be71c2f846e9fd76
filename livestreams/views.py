from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import follower_count, is_following
from wallet import selectors as wallet_selectors

from . import selectors, services
from .exceptions import RoomError
from .forms import GoLiveForm
from .models import Stream


def discover(request: HttpRequest) -> HttpResponse:
    return render(
        request, "livestreams/discover.html", {"rows": selectors.discovery(viewer=request.user)}
    )


def room(request: HttpRequest, pk: int) -> HttpResponse:
    stream = get_object_or_404(Stream.objects.select_related("creator__profile"), pk=pk)
    if not stream.is_live:
        income = selectors.may_manage(stream=stream, user=request.user)
        summary = selectors.stream_summary(stream=stream, income=income)
        return render(request, "livestreams/ended.html", {"stream": stream, "summary": summary})
    user = request.user
    value = wallet_selectors.coin_value(user=user) if user.is_authenticated else None
    gifts = [
        {"slug": g.slug, "name": g.name, "coins": g.coins, "big": g.is_big,
         "artwork": settings.STATIC_URL + g.artwork, "money": value.of(g.coins) if value else ""}
        for g in selectors.gift_catalogue()
    ]  # fmt: skip
    config = {
        "stream": stream.pk,
        "ws": f"/ws/live/{stream.pk}/",
        "signedIn": user.is_authenticated,
        "isCreator": user.is_authenticated and user.pk == stream.creator_id,
        "canModerate": selectors.may_manage(stream=stream, user=user),
        "confirmAbove": user.profile.gift_confirm_above_coins if user.is_authenticated else 0,
        "recharge": "/wallet/recharge/",
        "login": f"/accounts/login/?next=/live/{stream.pk}/",
        "startedAt": stream.started_at.isoformat(),
        "goal": stream.goal_coins,
        "gifts": gifts,
        "currency": value.currency if value else "",
        "coinMoney": str(value.minor_per_coin) if value else "",
    }
    context = {
        "stream": stream,
        "profile": stream.creator.profile,
        "may_gift": user.is_authenticated and user.pk != stream.creator_id,
        "is_following": is_following(follower=user, followee=stream.creator),
        "followers": follower_count(user=stream.creator),
        "gifts": gifts,
        "quantities": selectors.gift_quantities(),
        "config": config,
    }
    return render(request, "livestreams/room.html", context)


@login_required
def go_live(request: HttpRequest) -> HttpResponse:
    current = selectors.live_stream_of(creator=request.user)
    if current is not None:
        return redirect(current)
    form = GoLiveForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        try:
            stream = services.stream_start(creator=request.user, **form.cleaned_data)
        except RoomError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(stream)
    from accounts.selectors import creator_eligibility

    context = {"form": form, "eligibility": creator_eligibility(user=request.user)}
    return render(request, "livestreams/go_live.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def end(request: HttpRequest, pk: int) -> HttpResponse:
    stream = get_object_or_404(Stream, pk=pk)
    try:
        services.stream_end(stream=stream, by=request.user)
    except RoomError as exc:
        messages.error(request, str(exc))
        return redirect(stream)
    messages.success(request, "Your stream has ended.")
    return redirect(stream)


def overlay(request: HttpRequest, token: str) -> HttpResponse:
    """The OBS browser source: the room's gift animations and goal on a transparent page."""
    stream = get_object_or_404(Stream, overlay_token=token)
    config = {"ws": f"/ws/live/{stream.pk}/", "goal": stream.goal_coins}
    response = render(request, "livestreams/overlay.html", {"stream": stream, "config": config})
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_POST
def overlay_reset(request: HttpRequest, pk: int) -> HttpResponse:
    stream = get_object_or_404(Stream, pk=pk)
    try:
        services.overlay_token_reset(stream=stream, by=request.user)
    except RoomError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "New overlay link made; update your OBS browser source.")
    return redirect(stream)
