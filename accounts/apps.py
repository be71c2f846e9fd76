from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's account app is "Accounts" in admin too: two sections of one name.
    verbose_name = "People"

    def ready(self) -> None:
        from . import signals  # noqa: F401
