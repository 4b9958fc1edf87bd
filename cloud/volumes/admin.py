"""The Django admin of block storage: volumes (their attachments inline, the last fault),
snapshots, types with their extra specs, attachments, and the backends with their
capacity, what their volumes take, and whether their worker is up."""

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from cloud.volumes.models import (
    Volume,
    VolumeAttachment,
    VolumeBackend,
    VolumeSnapshot,
    VolumeType,
    VolumeTypeExtraSpec,
)
from cloud.volumes.selectors import backend_is_up


class ExtraSpecInline(admin.TabularInline):
    model = VolumeTypeExtraSpec
    extra = 0


@admin.register(VolumeType)
class VolumeTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "is_public", "specs_shown"]
    search_fields = ["name"]
    inlines = [ExtraSpecInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("specs")

    @admin.display(description="extra specs")
    def specs_shown(self, kind: VolumeType) -> str:
        return ", ".join(f"{k}={v}" for k, v in kind.extra_specs.items()) or "-"


class AttachmentInline(admin.TabularInline):
    model = VolumeAttachment
    extra = 0
    can_delete = False
    fields = ["id", "instance_uuid", "host", "device", "status", "delete_on_termination"]
    readonly_fields = fields


@admin.register(Volume)
class VolumeAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "project_id",
        "size",
        "status",
        "volume_type",
        "backend",
        "multiattach",
        "bootable",
        "fault",
        "created_at",
    ]
    list_filter = ["status", "backend", "volume_type", "multiattach", "bootable"]
    search_fields = ["id", "name", "project_id"]
    list_select_related = ["volume_type"]
    readonly_fields = ["id", "provider_location", "image_id", "snapshot_id", "created_at"]
    inlines = [AttachmentInline]


@admin.register(VolumeSnapshot)
class VolumeSnapshotAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "volume", "project_id", "size", "status", "fault", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "name", "project_id"]
    list_select_related = ["volume"]


@admin.register(VolumeAttachment)
class VolumeAttachmentAdmin(admin.ModelAdmin):
    list_display = ["id", "volume", "instance_uuid", "host", "device", "status", "updated_at"]
    list_filter = ["status", "host"]
    search_fields = ["id", "instance_uuid", "volume__id", "volume__name"]
    list_select_related = ["volume"]
    readonly_fields = ["connection_info"]


@admin.register(VolumeBackend)
class VolumeBackendAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "driver",
        "host",
        "state",
        "total_capacity_gb",
        "free_capacity_gb",
        "allocated",
        "volume_count",
        "payload_version",
        "last_seen",
    ]
    readonly_fields = [
        "name",
        "driver",
        "host",
        "total_capacity_gb",
        "free_capacity_gb",
        "payload_version",
        "started_at",
        "last_seen",
    ]

    def get_queryset(self, request):
        on_it = Volume.objects.filter(backend=OuterRef("name")).values("backend")
        return (
            super()
            .get_queryset(request)
            .annotate(
                allocated_gb=Subquery(
                    on_it.annotate(s=Sum(Coalesce("extend_to", "size"))).values("s")
                ),
                volumes=Subquery(on_it.annotate(n=Count("id")).values("n")),
            )
        )

    @admin.display(description="state")
    def state(self, backend: VolumeBackend) -> str:
        return "up" if backend_is_up(backend) else "down"

    @admin.display(description="allocated GiB")
    def allocated(self, backend: VolumeBackend) -> int:
        return backend.allocated_gb or 0

    @admin.display(description="volumes")
    def volume_count(self, backend: VolumeBackend) -> int:
        return backend.volumes or 0
