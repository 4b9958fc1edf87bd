from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "cloud.images"
    label = "images"
    verbose_name = "Images"
