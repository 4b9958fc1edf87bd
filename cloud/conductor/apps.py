from django.apps import AppConfig


class ConductorConfig(AppConfig):
    name = "cloud.conductor"
    label = "conductor"
    verbose_name = "Conductor"
