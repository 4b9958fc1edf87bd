"""The network app's configuration: registers its quota counters."""

from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "cloud.network"
    label = "network"
    verbose_name = "Networks"

    def ready(self) -> None:
        from cloud.network import quotas

        quotas.register()
