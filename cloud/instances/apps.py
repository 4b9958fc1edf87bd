from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "cloud.instances"
    label = "instances"
    verbose_name = "Instances"

    def ready(self) -> None:
        from cloud.identity import quotas
        from cloud.instances import selectors

        quotas.register_counter("instances", selectors.count_instances)
        quotas.register_counter("cores", selectors.count_cores)
        quotas.register_counter("ram", selectors.count_ram)
