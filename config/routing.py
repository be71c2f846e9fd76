"""Websocket routes of every app, gathered in one list for config.asgi."""

from livestreams.routing import websocket_urlpatterns as livestreams_ws

websocket_urlpatterns = [*livestreams_ws]
