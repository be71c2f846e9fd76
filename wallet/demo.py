"""seed_demo's wallet step: the demo fan buys coins through a real (simulated) recharge."""

from __future__ import annotations

from .models import CoinPackage, Recharge, RechargeStatus
from .payments import SimulatedProvider, sign_payload
from .webhooks import webhook_receive

DEMO_SESSION = "cs_sim_demo_fan_5000"


def seed(context: dict) -> None:
    fan = context["people"]["fan@example.com"]
    package = CoinPackage.objects.get(coins=5000, bonus_coins=0)
    price = package.prices.get(currency="USD")
    recharge, _ = Recharge.objects.get_or_create(
        provider_session_id=DEMO_SESSION,
        defaults={
            "user": fan, "package": package, "coins": package.total_coins,
            "amount_minor": price.amount_minor, "currency": "USD", "provider": SimulatedProvider.name,
        },
    )  # fmt: skip
    if recharge.status == RechargeStatus.PENDING:
        # Paid the way the simulated checkout pays: a signed event through the webhook handler.
        payload = SimulatedProvider.completed_event(recharge)
        result = webhook_receive(payload=payload.encode(), signature=sign_payload(payload))
        if result.status_code != 200:
            raise RuntimeError(f"demo recharge was not fulfilled: {result.message}")
