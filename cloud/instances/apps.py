from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "cloud.instances"
    label = "instances"
    verbose_name = "Instances"

    def ready(self) -> None:
        from cloud.identity import quotas
        from cloud.instances import selectors

        quotas.register_counters(("instances", "cores", "ram"), selectors.count_usage)
