from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "cloud.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from cloud import lookups
        from cloud.api import schema  # noqa: F401 - registers the OpenAPI auth extensions
        from cloud.identity import invalidation

        lookups.register()
        invalidation.connect()
