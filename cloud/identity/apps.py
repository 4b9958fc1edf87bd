from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "cloud.identity"
    label = "identity"
    verbose_name = "Identity"
