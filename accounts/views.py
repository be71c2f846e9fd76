from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .exceptions import FollowError
from .forms import ProfileForm
from .models import Profile


def profile_detail(request: HttpRequest, handle: str) -> HttpResponse:
    profile = selectors.profile_get_by_handle(handle=handle)
    context = {
        "profile": profile,
        "is_self": request.user.is_authenticated and request.user.pk == profile.user_id,
        "is_following": selectors.is_following(follower=request.user, followee=profile.user),
    }
    return render(request, "accounts/profile_detail.html", context)


@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    # A copy, so a rejected form never shows its bad values in the page chrome.
    instance = Profile.objects.get(user=request.user)
    form = ProfileForm(
        *((request.POST, request.FILES) if request.method == "POST" else ()), instance=instance
    )
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        avatar = fields.pop("avatar")
        if avatar is False:
            fields["avatar"] = None
        elif avatar is not None:
            fields["avatar"] = avatar
        try:
            profile = services.profile_update(profile=request.user.profile, **fields)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect(profile)
    return render(
        request, "accounts/profile_edit.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def follow(request: HttpRequest, handle: str) -> HttpResponse:
    profile = selectors.profile_get_by_handle(handle=handle)
    try:
        services.follow_create(follower=request.user, followee=profile.user)
    except FollowError as exc:
        messages.error(request, str(exc))
        return redirect(profile)
    messages.success(request, f"You follow {profile.name} now.")
    return redirect(profile)


@login_required
@require_POST
def unfollow(request: HttpRequest, handle: str) -> HttpResponse:
    profile = selectors.profile_get_by_handle(handle=handle)
    try:
        services.follow_delete(follower=request.user, followee=profile.user)
    except FollowError as exc:
        messages.error(request, str(exc))
        return redirect(profile)
    messages.success(request, f"You unfollowed {profile.name}.")
    return redirect(profile)


@login_required
def become_creator(request: HttpRequest) -> HttpResponse:
    eligibility = selectors.creator_eligibility(user=request.user)
    return render(request, "accounts/become_creator.html", {"eligibility": eligibility})
