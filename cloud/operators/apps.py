"""The operators' app: it owns no tables; it reads the other apps through their selectors."""

from django.apps import AppConfig


class OperatorsConfig(AppConfig):
    name = "cloud.operators"
    label = "operators"
    verbose_name = "Operators"

    def ready(self) -> None:
        from django.contrib import admin
        from prometheus_client import REGISTRY

        from cloud.operators.collectors import CloudCollector

        # The admin's index links to the dashboard (templates/operators/admin_index.html).
        admin.site.index_template = "operators/admin_index.html"
        if not getattr(REGISTRY, "_stratus_cloud", False):
            REGISTRY.register(CloudCollector())
            REGISTRY._stratus_cloud = True
