"""System checks of the payment configuration (`manage.py check`, `check --deploy`).

Production must take real money through Stripe, verify Stripe's events with the endpoint's
own signing secret, and not mix test and live keys. What counts as a mismatch:

- STRIPE_SECRET_KEY must be a Stripe secret or restricted key (`sk_`/`rk_` + `test_`/`live_`);
- STRIPE_PUBLISHABLE_KEY, when set (the site itself does not need it), must be of the same
  mode as the secret key: a `pk_live_` beside an `sk_test_` is two dashboards mixed up;
- a live key outside the production settings module is an error on every command, not only
  under `--deploy`: a developer machine or a test run must never move real money.

A test key under production settings is allowed (DESIGN: Stripe Checkout in test mode);
every payment page then says that no real money is taken.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .payments import PROVIDERS, StripeProvider, simulated_in_force, stripe_key_mode

TAG = "payments"

UNKNOWN_PROVIDER = "PAYMENT_PROVIDER is {name!r}; it must be one of: {choices}."
SIMULATED_IN_PRODUCTION = (
    "Payments are simulated under production settings: anyone can buy coins with the test "
    "card 4242 4242 4242 4242."
)
SIMULATED_IN_PRODUCTION_HINT = (
    "Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET and unset PAYMENT_PROVIDER (or set it "
    "to 'stripe'). Keep PAYMENT_PROVIDER=simulated only for a site that takes no money."
)
NO_SECRET_KEY = "PAYMENT_PROVIDER is 'stripe' but STRIPE_SECRET_KEY is not set."
NO_SECRET_KEY_HINT = "Set STRIPE_SECRET_KEY to the account's secret key (sk_live_… or sk_test_…)."
NO_WEBHOOK_SECRET = (
    "STRIPE_WEBHOOK_SECRET is not set: Stripe's events (payments, refunds, disputes) would "
    "all be refused, so no refund or dispute would ever take coins back."
)
NO_WEBHOOK_SECRET_HINT = (
    "Set it to the signing secret (whsec_…) of the webhook endpoint that points at "
    "/wallet/stripe/webhook/."
)
BAD_WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET does not look like a webhook signing secret."
BAD_WEBHOOK_SECRET_HINT = "Stripe's webhook signing secrets start with whsec_."
BAD_SECRET_KEY = "STRIPE_SECRET_KEY does not look like a Stripe secret key."
BAD_SECRET_KEY_HINT = "Stripe's secret keys start with sk_test_, sk_live_, rk_test_ or rk_live_."
BAD_PUBLISHABLE_KEY = "STRIPE_PUBLISHABLE_KEY does not look like a Stripe publishable key."
MODE_MISMATCH = (
    "STRIPE_SECRET_KEY is a {secret} key but STRIPE_PUBLISHABLE_KEY is a {publishable} key."
)
MODE_MISMATCH_HINT = "Take both keys from the same mode (test or live) of the Stripe dashboard."
LIVE_KEY_OUTSIDE_PRODUCTION = (
    "STRIPE_SECRET_KEY is a live key but these are not the production settings ({module})."
)
LIVE_KEY_OUTSIDE_PRODUCTION_HINT = "Use a test key (sk_test_…) outside production."


def _stripe_in_use() -> bool:
    provider: str = settings.PAYMENT_PROVIDER
    return provider == StripeProvider.name or bool(settings.STRIPE_SECRET_KEY)


@register(TAG)
def check_payment_provider(app_configs=None, **kwargs) -> list[CheckMessage]:
    """On every command: a provider that exists, with a key, and no live key off production."""
    problems: list[CheckMessage] = []
    name = settings.PAYMENT_PROVIDER
    if name not in PROVIDERS:
        choices = ", ".join(sorted(PROVIDERS))
        problems.append(
            Error(UNKNOWN_PROVIDER.format(name=name, choices=choices), id="wallet.E001")
        )
    if name == StripeProvider.name and not settings.STRIPE_SECRET_KEY:
        problems.append(Error(NO_SECRET_KEY, hint=NO_SECRET_KEY_HINT, id="wallet.E002"))
    if stripe_key_mode(settings.STRIPE_SECRET_KEY) == "live" and not settings.PRODUCTION:
        problems.append(
            Error(
                LIVE_KEY_OUTSIDE_PRODUCTION.format(module=settings.SETTINGS_MODULE),
                hint=LIVE_KEY_OUTSIDE_PRODUCTION_HINT,
                id="wallet.E003",
            )
        )
    return problems


@register(TAG, deploy=True)
def check_payments_deploy(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Under `--deploy`: real money in production, verifiable events, keys of one mode."""
    problems: list[CheckMessage] = []
    if settings.PRODUCTION and simulated_in_force():
        problems.append(
            Error(SIMULATED_IN_PRODUCTION, hint=SIMULATED_IN_PRODUCTION_HINT, id="wallet.E010")
        )
    if not _stripe_in_use():
        return problems
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        problems.append(Error(NO_WEBHOOK_SECRET, hint=NO_WEBHOOK_SECRET_HINT, id="wallet.E011"))
    elif not secret.startswith("whsec_"):
        problems.append(Error(BAD_WEBHOOK_SECRET, hint=BAD_WEBHOOK_SECRET_HINT, id="wallet.E012"))
    key = settings.STRIPE_SECRET_KEY
    mode = stripe_key_mode(key)
    if key and mode is None:
        problems.append(Error(BAD_SECRET_KEY, hint=BAD_SECRET_KEY_HINT, id="wallet.E013"))
    publishable = settings.STRIPE_PUBLISHABLE_KEY
    if publishable:
        published_mode = stripe_key_mode(publishable, kinds=("pk",))
        if published_mode is None:
            problems.append(Error(BAD_PUBLISHABLE_KEY, hint=MODE_MISMATCH_HINT, id="wallet.E014"))
        elif mode is not None and published_mode != mode:
            problems.append(
                Error(
                    MODE_MISMATCH.format(secret=mode, publishable=published_mode),
                    hint=MODE_MISMATCH_HINT,
                    id="wallet.E015",
                )
            )
    return problems
