"""Site-wide pages: home, health checks and the error pages."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control, never_cache

from livestreams.selectors import discovery


def home(request: HttpRequest) -> HttpResponse:
    """The rooms live now, as /live/ lists them; the pitch (and its mock room) leads only
    while nobody is live."""
    return render(request, "pages/home.html", {"rows": discovery(viewer=request.user)})


@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever a page links: send them to the static icon
    (a hashed name in production, so the answer is cached for a day, not for good)."""
    return HttpResponseRedirect(static("img/favicon.ico"))


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database and the cache answer."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("readyz", "1", 5)
        checks["cache"] = "ok" if cache.get("readyz") == "1" else "error: no round trip"
    except Exception as exc:  # noqa: BLE001
        checks["cache"] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503
    )


def error_400(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "400.html", status=400)


def error_403(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def error_404(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    # No request and no context processors: the failure may be the database, the session or
    # a processor. Should the page itself fail (a static file missing from the manifest),
    # plain words still go out rather than nothing.
    from django.template import loader

    try:
        body = loader.get_template("500.html").render()
    except Exception:  # noqa: BLE001 - the error page must not raise
        body = "<!DOCTYPE html><title>Giftcast</title><h1>Something went wrong on our side</h1>"
    return HttpResponse(body, status=500)
