from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "cloud.instances"
    label = "instances"
    verbose_name = "Instances"
