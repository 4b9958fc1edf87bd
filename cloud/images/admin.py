"""Django admin: images with their size, status, owner and visibility, and their members."""

from django.contrib import admin

from cloud.images.models import Image, ImageMember


class ImageMemberInline(admin.TabularInline):
    model = ImageMember
    extra = 0
    fields = ["member", "status", "created_at", "updated_at"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "id",
        "status",
        "visibility",
        "disk_format",
        "size",
        "virtual_size",
        "owner",
        "protected",
        "created_at",
    ]
    list_filter = ["status", "visibility", "disk_format", "protected", "os_hidden"]
    search_fields = ["name", "id", "owner"]
    readonly_fields = [
        "id",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "locations",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "name", "status", "owner", "visibility", "protected"]}),
        ("Format", {"fields": ["disk_format", "container_format", "min_disk", "min_ram"]}),
        (
            "Data",
            {
                "fields": [
                    "size",
                    "virtual_size",
                    "checksum",
                    "os_hash_algo",
                    "os_hash_value",
                    "locations",
                ]
            },
        ),
        ("Metadata", {"fields": ["tags", "properties", "os_hidden", "created_at", "updated_at"]}),
    ]
    inlines = [ImageMemberInline]
