"""ASGI entry point: HTTP goes to Django, websockets through auth and an Origin check.

Two fixes to the libraries under the room sockets are installed here, where the server
loads the site (livestreams.realtime.adapters; found by bench/chaos.py cycles): a
websocket's database calls begin with their thread's query log empty, as a request does,
and daphne completes no handshake for a connection autobahn has already dropped.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from livestreams.realtime import adapters  # noqa: E402

adapters.queries_forgotten_per_call()
adapters.dropped_connections_stay_closed()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
