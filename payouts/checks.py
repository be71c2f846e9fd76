"""System checks of the payout configuration (`manage.py check`, `check --deploy`).

`PAYOUT_PROVIDER` must name a provider; Stripe Connect payouts need the platform's secret
key, and in production the signing secret(s) of the Connect webhook endpoint: without them
no `payout.paid`, `payout.failed` or `transfer.reversed` is ever verified, so payouts would
sit in `processing` and a failed payout would never give the creator's diamonds back.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .providers import PROVIDERS
from .webhooks import connect_secrets

TAG = "payouts"

UNKNOWN_PROVIDER = "PAYOUT_PROVIDER is {name!r}; it must be one of: {choices}."
NO_SECRET_KEY = "PAYOUT_PROVIDER is 'stripe' but STRIPE_SECRET_KEY is not set."
NO_SECRET_KEY_HINT = "Stripe Connect transfers are made with the platform's secret key."
NO_CONNECT_SECRET = (
    "PAYOUT_PROVIDER is 'stripe' but STRIPE_CONNECT_WEBHOOK_SECRET is not set: Stripe "
    "Connect's events would all be refused, so no payout would ever be marked paid or failed."
)
NO_CONNECT_SECRET_HINT = (
    "Set it to the signing secret(s) (whsec_…, comma-separated) of the webhook endpoints "
    "pointing at /creator/stripe/webhook/."
)
BAD_CONNECT_SECRET = "STRIPE_CONNECT_WEBHOOK_SECRET holds {secret!r}, not a signing secret."
BAD_CONNECT_SECRET_HINT = "Stripe's webhook signing secrets start with whsec_."


@register(TAG)
def check_payout_provider(app_configs=None, **kwargs) -> list[CheckMessage]:
    name = settings.PAYOUT_PROVIDER
    if name not in PROVIDERS:
        choices = ", ".join(sorted(PROVIDERS))
        return [Error(UNKNOWN_PROVIDER.format(name=name, choices=choices), id="payouts.E001")]
    if name == "stripe" and not settings.STRIPE_SECRET_KEY:
        return [Error(NO_SECRET_KEY, hint=NO_SECRET_KEY_HINT, id="payouts.E002")]
    return []


@register(TAG, deploy=True)
def check_payouts_deploy(app_configs=None, **kwargs) -> list[CheckMessage]:
    if settings.PAYOUT_PROVIDER != "stripe":
        return []
    secrets = connect_secrets()
    if not secrets:
        return [Error(NO_CONNECT_SECRET, hint=NO_CONNECT_SECRET_HINT, id="payouts.E010")]
    return [
        Error(
            BAD_CONNECT_SECRET.format(secret=secret[:6] + "…"),
            hint=BAD_CONNECT_SECRET_HINT,
            id="payouts.E011",
        )
        for secret in secrets
        if not secret.startswith("whsec_")
    ]
