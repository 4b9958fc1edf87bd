from django.apps import AppConfig
from django.conf import settings


class SchedulerConfig(AppConfig):
    name = "cloud.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        from cloud.identity import quotas
        from cloud.scheduler import filters, selectors, weighers

        # Unknown filter or weigher names stop every process at start-up.
        filters.load(settings.SCHEDULER_FILTERS)
        weighers.load(settings.SCHEDULER_WEIGHERS)
        # server_group_members has no project-wide count: it is limited per group, when a
        # server joins one (cloud.scheduler.groups), and shows 0 in use, as in Nova.
        quotas.register_counter("server_groups", selectors.count_server_groups)
