"""seed_demo's wallet step: the demo fan buys coins through a real (simulated) recharge."""

from __future__ import annotations

from .models import CoinPackage, Recharge, RechargeStatus
from .payments import SimulatedProvider, sign_payload
from .webhooks import webhook_receive

DEMO_SESSION = "cs_sim_demo_fan_5000"
# Fans whose gifts make up the demo creator's earnings history (livestreams.demo).
HISTORY_FANS = {
    "mia@example.com": "cs_sim_demo_mia_5000",
    "noah@example.com": "cs_sim_demo_noah_5000",
}


def seed(context: dict) -> None:
    people = context["people"]
    paid_recharge(user=people["fan@example.com"], session_id=DEMO_SESSION)
    for email, session_id in HISTORY_FANS.items():
        paid_recharge(user=people[email], session_id=session_id)


def paid_recharge(*, user, session_id: str, coins: int = 5000) -> Recharge:
    """A recharge of `coins` (a USD package) paid once through the simulated checkout's path."""
    package = CoinPackage.objects.get(coins=coins, bonus_coins=0)
    price = package.prices.get(currency="USD")
    recharge, _ = Recharge.objects.get_or_create(
        provider_session_id=session_id,
        defaults={
            "user": user, "package": package, "coins": package.total_coins,
            "amount_minor": price.amount_minor, "currency": "USD", "provider": SimulatedProvider.name,
        },
    )  # fmt: skip
    if recharge.status == RechargeStatus.PENDING:
        # Paid the way the simulated checkout pays: a signed event through the webhook handler.
        payload = SimulatedProvider.completed_event(recharge)
        result = webhook_receive(payload=payload.encode(), signature=sign_payload(payload))
        if result.status_code != 200:
            raise RuntimeError(f"demo recharge was not fulfilled: {result.message}")
    return recharge
