"""The Django admin of flavors (with their extra specs and access inline), instances,
their actions, faults and migrations."""

from django.contrib import admin
from django.db.models import Count

from cloud.instances.models import (
    Flavor,
    FlavorAccess,
    FlavorExtraSpec,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
)


class ExtraSpecInline(admin.TabularInline):
    """A flavor's extra specs, edited in place (no 2.86 validation: the operator's word)."""

    model = FlavorExtraSpec
    extra = 1
    fields = ["key", "value"]


class FlavorAccessInline(admin.TabularInline):
    """The projects a private flavor is shared with."""

    model = FlavorAccess
    extra = 1
    fields = ["project_id", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Flavor)
class FlavorAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "flavorid",
        "vcpus",
        "memory_mb",
        "root_gb",
        "ephemeral_gb",
        "swap",
        "is_public",
        "disabled",
        "spec_count",
    ]
    list_filter = ["is_public", "disabled"]
    search_fields = ["name", "flavorid", "specs__key"]
    inlines = [ExtraSpecInline, FlavorAccessInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(specs_total=Count("specs"))

    @admin.display(description="extra specs", ordering="specs_total")
    def spec_count(self, flavor: Flavor) -> int:
        return flavor.specs_total


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "uuid",
        "vm_state",
        "task_state",
        "power_state",
        "host",
        "flavor_name",
        "project_id",
        "created_at",
        "deleted",
    ]
    list_filter = ["vm_state", "task_state", "host", "deleted"]
    search_fields = ["display_name", "uuid", "project_id", "host"]
    readonly_fields = [
        "uuid",
        "created_at",
        "updated_at",
        "launched_at",
        "terminated_at",
        "deleted_at",
    ]

    @admin.display(description="flavor")
    def flavor_name(self, instance: Instance) -> str:
        return instance.flavor.get("name", "")


class EventInline(admin.TabularInline):
    model = InstanceActionEvent
    extra = 0
    readonly_fields = ["event", "start_time", "finish_time", "result", "host", "details"]
    exclude = ["traceback"]


@admin.register(InstanceAction)
class InstanceActionAdmin(admin.ModelAdmin):
    list_display = [
        "action",
        "instance_uuid",
        "request_id",
        "user_id",
        "start_time",
        "finish_time",
        "message",
    ]
    list_filter = ["action"]
    search_fields = ["instance_uuid", "request_id"]
    inlines = [EventInline]


@admin.register(InstanceFault)
class InstanceFaultAdmin(admin.ModelAdmin):
    list_display = ["instance_uuid", "code", "message", "host", "created_at"]
    search_fields = ["instance_uuid", "message"]


@admin.register(Migration)
class MigrationAdmin(admin.ModelAdmin):
    list_display = [
        "uuid",
        "instance_uuid",
        "migration_type",
        "status",
        "source_compute",
        "dest_compute",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "migration_type"]
    search_fields = ["uuid", "instance_uuid", "source_compute", "dest_compute"]
    readonly_fields = ["uuid", "created_at", "updated_at"]
