from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "cloud.scheduler"
    label = "scheduler"
    verbose_name = "Placement"
