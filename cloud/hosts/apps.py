from django.apps import AppConfig


class HostsConfig(AppConfig):
    name = "cloud.hosts"
    label = "hosts"
    verbose_name = "Compute hosts"
