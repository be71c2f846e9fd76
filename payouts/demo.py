"""Demo data for payouts (seed_demo): the demo creator's past gifts folded into the
dashboard's tallies, as the operator's scheduled earnings_rollup would have done."""

from __future__ import annotations

from .services import earnings_rollup


def seed(context: dict) -> None:
    folded = earnings_rollup()
    context["stdout"].write(f"Earnings tallies rolled up ({folded:,} fan-stream-day sums).")
