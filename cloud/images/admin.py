from django.contrib import admin

from cloud.images.models import Image


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "id",
        "status",
        "visibility",
        "disk_format",
        "size",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "visibility", "disk_format"]
    search_fields = ["name", "id", "owner"]
