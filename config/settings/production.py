"""Deployment settings: every secret comes from the environment and nothing insecure defaults on."""

import copy

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, STRIPE_SECRET_KEY, env

NO_PAYMENT_PROVIDER = (
    "Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or PAYMENT_PROVIDER=simulated for a site "
    "that takes no real money (its payment pages then say so)."
)

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS to the site's host names (no '*').")
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS", default=[f"https://{host}" for host in ALLOWED_HOSTS]
)

# ------------------------------------------------------------------------------
# SECURITY
# ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_NAME = "__Secure-csrftoken"
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
# Links in emails sent outside a request (payout updates): the first host, over HTTPS.
SITE_URL = env("DJANGO_SITE_URL", default=f"https://{ALLOWED_HOSTS[0]}").rstrip("/")
DEMO_DATA_ALLOWED = False

# ------------------------------------------------------------------------------
# LOGGING: one JSON object a line (config.logs.JSONFormatter), for a log collector to parse
# ------------------------------------------------------------------------------
LOGGING = copy.deepcopy(LOGGING)
LOGGING["handlers"]["console"]["formatter"] = "json"

# ------------------------------------------------------------------------------
# PAYMENTS: no silent fall-back to simulated payments (free coins for a test card)
# ------------------------------------------------------------------------------
PRODUCTION = True
if not env("PAYMENT_PROVIDER", default="") and not STRIPE_SECRET_KEY:
    raise ImproperlyConfigured(NO_PAYMENT_PROVIDER)
