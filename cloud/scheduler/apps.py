from django.apps import AppConfig
from django.conf import settings


class SchedulerConfig(AppConfig):
    name = "cloud.scheduler"
    label = "scheduler"
    verbose_name = "Placement"

    def ready(self) -> None:
        from cloud.scheduler import filters, weighers

        # Unknown filter or weigher names stop every process at start-up.
        filters.load(settings.SCHEDULER_FILTERS)
        weighers.load(settings.SCHEDULER_WEIGHERS)
