"""Refusals at the edge, before a view or the session reads the database."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest
from django.utils.decorators import sync_and_async_middleware

NUL = "\x00"


def _drop_nul_cookies(request: HttpRequest) -> None:
    bad = [name for name, value in request.COOKIES.items() if NUL in name or NUL in value]
    for name in bad:
        del request.COOKIES[name]


def _refuse_nul(request: HttpRequest) -> None:
    if NUL in request.path_info:
        raise Http404("No such page.")
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            raise BadRequest("A query parameter holds a NUL byte.")


@sync_and_async_middleware
def refuse_nul(get_response):
    """PostgreSQL text cannot hold a NUL byte: one that reached a query as a URL segment
    (`/@%00/`), a query value (an admin filter) or the session key was a DataError, a 500.
    No handle, token, session id or filter value holds one, so:

    - a NUL in the path is a page that does not exist: 404;
    - a NUL in a query name or value is a bad request: 400;
    - a cookie holding one is ignored, as an unknown session key is (anonymous).

    It sits before SessionMiddleware, which reads the session cookie. The path and query
    are refused in process_view, so the 404 and 400 pages go out through the rest of the
    middleware (CSP, frame options) with the visitor's session, like any other. Written
    for both modes, so that under ASGI it costs no trip to a worker thread."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest):
            _drop_nul_cookies(request)
            return await get_response(request)

        async def process_view(request: HttpRequest, view, args, kwargs) -> None:
            _refuse_nul(request)

    else:

        def middleware(request: HttpRequest):
            _drop_nul_cookies(request)
            return get_response(request)

        def process_view(request: HttpRequest, view, args, kwargs) -> None:
            _refuse_nul(request)

    middleware.process_view = process_view
    return middleware
