"""What the wallet tells apps that depend on it (they connect; the wallet imports none)."""

from django.dispatch import Signal

# A refunded or disputed recharge whose coins were already spent: `recharge` and `coins`
# (how many of its coins were gone). Sent inside the clawback's database transaction, so
# whatever receivers write commits or rolls back with it.
coins_clawed_back = Signal()
