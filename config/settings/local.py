"""The embedded default: runs with no environment at all (SQLite, in-memory layer, console email).

DATABASE_URL and REDIS_URL are honoured when set, so the same settings can run against
PostgreSQL and Redis on a developer machine.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="local-only-not-secret-giftcast-embedded-default-key-0123456789",
)
# Host validation ignores the port, so these accept localhost on any port (HTTP and
# websocket Origins alike).
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# Serve static files straight from the app folders: no collectstatic step for `make run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

DEMO_DATA_ALLOWED = True

# collectstatic is for deployments; here whitenoise serves from the app folders.
STATIC_ROOT = None
