"""Django admin for placement: resource providers with their inventories, and allocations."""

from django.contrib import admin

from cloud.placement.models import Allocation, Inventory, ResourceProvider


class InventoryInline(admin.TabularInline):
    model = Inventory
    extra = 0


@admin.register(ResourceProvider)
class ResourceProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "uuid", "generation", "updated_at"]
    search_fields = ["name", "uuid"]
    inlines = [InventoryInline]


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["consumer_id", "provider", "resource_class", "used", "project_id", "created_at"]
    list_filter = ["resource_class", "provider"]
    search_fields = ["consumer_id", "project_id"]
    list_select_related = ["provider"]
