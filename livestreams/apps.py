from django.apps import AppConfig


class LivestreamsConfig(AppConfig):
    name = "livestreams"
    verbose_name = "Live streams"
