"""The volumes app's configuration: registers its quota counters."""

from django.apps import AppConfig


class VolumesConfig(AppConfig):
    name = "cloud.volumes"
    label = "volumes"
    verbose_name = "Block storage"

    def ready(self) -> None:
        from cloud.volumes import quotas

        quotas.register()
