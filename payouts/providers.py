"""Payout providers: the one place that knows how each pays a creator.

`manual` (the default): staff pay outside the site (PayPal, bank transfer) and record the
payment's reference when they mark the payout paid. The services never branch on the
provider; they ask it what they need to know.
"""

from __future__ import annotations

from django.conf import settings


class PayoutProviderError(Exception):
    """The provider could not be reached or refused the request."""


class ManualProvider:
    name = "manual"
    label = "Paid by staff (PayPal or bank transfer)"
    # Staff must say which PayPal or bank transaction paid it.
    requires_reference = True

    def on_approved(self, *, payout):
        """Nothing happens by itself: staff pay, then mark the payout paid."""
        return payout


PROVIDERS = {"manual": ManualProvider}


def get_provider(name: str | None = None):
    name = name or settings.PAYOUT_PROVIDER
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise PayoutProviderError(f"Unknown PAYOUT_PROVIDER {name!r}") from None
