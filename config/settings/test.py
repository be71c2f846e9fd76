"""Settings for pytest: fast hashing, in-memory mail, plain static storage."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

DEBUG = False
SECRET_KEY = "test-only-secret-key-giftcast-not-for-any-deployment-0123456789"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver", "[::1]"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Threads in concurrency tests must not leave persistent connections behind.
DATABASES["default"]["CONN_MAX_AGE"] = 0
if env.bool("GIFTCAST_E2E", default=False) and DATABASES["default"]["ENGINE"] == "config.sqlite":
    # Browser journeys run a real daphne process beside pytest: it must see the same
    # database, so the test database is a file rather than in memory.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".e2e-test-db.sqlite3")}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DEMO_DATA_ALLOWED = True

# collectstatic is for deployments; here whitenoise serves from the app folders.
STATIC_ROOT = None
