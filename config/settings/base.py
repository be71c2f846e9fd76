"""Settings shared by every environment; each value can come from the environment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# ------------------------------------------------------------------------------
# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True
SITE_ID = 1

# ------------------------------------------------------------------------------
# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend, whose flush the ledger's delete-refusing triggers let through
    # (config/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    # SQLite serialises writers: wait for the lock instead of failing, and take it up front.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Keep connections between requests and websocket frames (Channels closes stale ones
    # around each database call): a new connection per gift cost more than the gift. The
    # gift path's statements are prepared once per connection (config/pgcall.py).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# CACHE AND CHANNEL LAYER (Redis when REDIS_URL is set, in-process otherwise)
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Seconds a call to Redis waits to connect, and then for each answer, before it counts as
# Redis away (config.cache.REDIS_AWAY: a room refuses gifts as `unavailable`, sign-in keeps
# its rate limits in memory). Without it a Redis that hangs, or a network that drops packets,
# holds every caller for the system's TCP timeouts: minutes, with the threads and the event
# loop's connections stuck meanwhile.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=5.0)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, with allauth's rate limits kept in each process's memory
            # while Redis can't be reached (config/cache.py), so sign-in survives an outage.
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "giftcast",
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 30,
                        "max_connections": 1000,
                        "socket_connect_timeout": REDIS_TIMEOUT,
                    }
                ],
                "prefix": "giftcast",
                # JSON, so the room scripts can publish frames themselves (livestreams.realtime)
                "serializer_format": "json",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# ------------------------------------------------------------------------------
# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "channels",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
]
LOCAL_APPS = [
    "accounts",
    "wallet",
    "livestreams",
    "payouts",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# ------------------------------------------------------------------------------
# AUTHENTICATION (django-allauth: email login, mandatory verification, MFA)
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {  # the site's labels and one-line password rules (accounts/forms.py)
    "signup": "accounts.forms.SignupForm",
    "login": "accounts.forms.LoginForm",
    "change_password": "accounts.forms.ChangePasswordForm",
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Giftcast] "
# allauth's defaults, spelled out so nobody turns them off by accident.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Giftcast"
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
# What emails call the site (allauth's `current_site`: accounts.adapters). The project runs
# without django.contrib.sites, whose fallback is the request's host.
SITE_NAME = "Giftcast"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ------------------------------------------------------------------------------
# MIDDLEWARE, URLS, TEMPLATES
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.refuse_nul",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.viewer",
            ],
        },
    }
]

# ------------------------------------------------------------------------------
# STATIC AND MEDIA
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 5_242_880
AVATAR_MAX_BYTES = 2 * 1024 * 1024

# ------------------------------------------------------------------------------
# SECURITY (tightened further in production)
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:", "https:"],
        "connect-src": [SELF, "ws:", "wss:", "https:"],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://checkout.stripe.com"],
    },
}

# ------------------------------------------------------------------------------
# EMAIL
# ------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Giftcast <noreply@giftcast.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ------------------------------------------------------------------------------
# LOGGING
# ------------------------------------------------------------------------------
# One line per record. Money events (the `giftcast.money` logger: config/logs.py) carry their
# fields, written as key=value here and as JSON under production settings.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "config.logs.KeyValueFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logs.JSONFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

# ------------------------------------------------------------------------------
# GIFTCAST (DESIGN §2): rates are Decimals, amounts are integers
# ------------------------------------------------------------------------------
CREATOR_SHARE = Decimal(env("CREATOR_SHARE", default="0.5"))
DIAMOND_VALUE_USD = Decimal(env("DIAMOND_VALUE_USD", default="0.005"))
PAYOUT_MINIMUM_USD = Decimal(env("PAYOUT_MINIMUM_USD", default="10"))
PAYOUT_MAX_PER_DAY_USD = Decimal(env("PAYOUT_MAX_PER_DAY_USD", default="5000"))
PAYOUT_CLEARING_DAYS = env.int("PAYOUT_CLEARING_DAYS", default=7)
CREATOR_MIN_FOLLOWERS = env.int("CREATOR_MIN_FOLLOWERS", default=1000)
CREATOR_MIN_AGE = 18

# Payments (wallet/checks.py holds them to the rules; `check --deploy` reports breaches).
# Production settings set PRODUCTION and refuse to fall back to simulated payments.
PRODUCTION = False
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", default="")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Not used by the site (checkout is hosted by Stripe); when set, it must match the secret
# key's mode (test or live).
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
if not PAYMENT_PROVIDER:
    PAYMENT_PROVIDER = "stripe" if STRIPE_SECRET_KEY else "simulated"

# seed_demo writes well-known passwords: only the embedded default and tests allow it.
DEMO_DATA_ALLOWED = False

RECHARGE_CUSTOM_MIN_COINS = env.int("RECHARGE_CUSTOM_MIN_COINS", default=30)
RECHARGE_CUSTOM_MAX_COINS = env.int("RECHARGE_CUSTOM_MAX_COINS", default=200_000)
# A checkout nobody finishes ends `expired` after this long (Stripe's sessions last 24 h);
# `manage.py recharges_expire`, run by the scheduler, closes them.
RECHARGE_CHECKOUT_HOURS = env.int("RECHARGE_CHECKOUT_HOURS", default=24)
# A fan may refund a recharge themselves this long after paying, while none of its coins
# has been spent (DESIGN §2).
RECHARGE_REFUND_HOURS = env.int("RECHARGE_REFUND_HOURS", default=48)
# Point the real stripe library somewhere else (a fake of Stripe's API in tests).
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
WALLET_LOCK_TIMEOUT_MS = env.int("WALLET_LOCK_TIMEOUT_MS", default=5000)
# On PostgreSQL, ledger transfers and gifts post through the database functions the
# migrations install (wallet_post, gift_post: one round trip each). Off, they take the
# portable ORM path SQLite takes, which writes the same rows; the tests run both. Leave it on.
USE_DATABASE_FUNCTIONS = True
GIFT_BIG_MIN_COINS = env.int("GIFT_BIG_MIN_COINS", default=500)
GIFT_MAX_QUANTITY = env.int("GIFT_MAX_QUANTITY", default=99)
GIFT_RATE_LIMIT = env("GIFT_RATE_LIMIT", default="30/10")  # sends per seconds, per fan
CHAT_RATE_LIMIT = env("CHAT_RATE_LIMIT", default="5/5")  # messages per seconds, per user
# Every frame a room connection sends, all types together, per connection; past twice this
# in one window the connection is closed (4429).
ROOM_FRAME_RATE_LIMIT = env("ROOM_FRAME_RATE_LIMIT", default="40/10")
# `sync` (a fresh state) per account, or per address for visitors, across connections.
ROOM_SYNC_RATE_LIMIT = env("ROOM_SYNC_RATE_LIMIT", default="10/10")
# A fan's run of one small gift: more within this many ms of the room's last frame for the
# run are held and sent as one frame (livestreams/realtime/bursts.py); 0 sends each at once.
ROOM_GIFT_BURST_MS = env.int("ROOM_GIFT_BURST_MS", default=150)
CHAT_MAX_LENGTH = 200
# A room's viewer count goes to its viewers at most once per this many seconds.
ROOM_VIEWERS_INTERVAL = env.float("ROOM_VIEWERS_INTERVAL", default=1.0)

# Payouts (DESIGN §5): `manual` (staff pay outside the site and record the reference).
PAYOUT_PROVIDER = env("PAYOUT_PROVIDER", default="manual")
# PAYOUT_PROVIDER=stripe (Stripe Connect, with STRIPE_SECRET_KEY): the signing secret(s) of
# the webhook endpoint(s) pointed at /creator/stripe/webhook/, comma-separated (Connect
# events and the platform's transfer events come from two endpoints, each with its own).
STRIPE_CONNECT_WEBHOOK_SECRET = env("STRIPE_CONNECT_WEBHOOK_SECRET", default="")
# Where links in emails point (no request to build them from).
SITE_URL = env("DJANGO_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
