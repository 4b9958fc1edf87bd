from django.apps import AppConfig


class PlacementConfig(AppConfig):
    name = "cloud.placement"
    label = "placement"
    verbose_name = "Placement"
