"""The consoles app's configuration."""

from django.apps import AppConfig


class ConsolesConfig(AppConfig):
    name = "cloud.consoles"
    label = "consoles"
    verbose_name = "Remote consoles"
