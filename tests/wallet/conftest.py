"""The wallet tests' fake Stripe: the real stripe library pointed at a local fake server."""

from __future__ import annotations

import pytest

from tests.wallet import stripe_fake


@pytest.fixture
def fake_stripe(settings):
    """Payments through Stripe, its API served by tests/wallet/stripe_fake.py."""
    fake, server = stripe_fake.start()
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_giftcast_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_giftcast"
    settings.STRIPE_API_BASE = fake.url
    yield fake
    server.shutdown()
