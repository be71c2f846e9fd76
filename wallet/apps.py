from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = "Wallet"

    def ready(self):
        from . import checks  # noqa: F401  (registers the payment configuration checks)
        from .ledger import system_accounts_ensure

        # The gift path names system accounts by their fixed ids: keep them present after
        # `migrate` and after a test database flush.
        post_migrate.connect(system_accounts_ensure, sender=self)
