from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_save


def _profile_saved(sender, instance, created, **kwargs):
    if not created:
        from .services import gifter_labels_refresh

        transaction.on_commit(lambda: gifter_labels_refresh(profile=instance))


class LivestreamsConfig(AppConfig):
    name = "livestreams"
    verbose_name = "Live streams"

    def ready(self):
        post_save.connect(
            _profile_saved, sender="accounts.Profile", dispatch_uid="livestreams-labels"
        )
