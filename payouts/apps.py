from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self):
        from wallet.signals import coins_clawed_back

        from . import checks  # noqa: F401 - registers the payout system checks
        from .services import _on_coins_clawed_back

        # A fan's refunded or disputed payment takes back their gifts still clearing.
        coins_clawed_back.connect(_on_coins_clawed_back, dispatch_uid="payouts-reverse-gifts")
