from django.contrib import admin

from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_is_up
from cloud.placement.selectors import provider_usage


@admin.register(ComputeNode)
class ComputeNodeAdmin(admin.ModelAdmin):
    list_display = [
        "host",
        "hypervisor_type",
        "vcpus",
        "memory_mb",
        "local_gb",
        "usage",
        "state",
        "disabled",
        "last_seen_at",
    ]
    list_filter = ["disabled", "forced_down", "hypervisor_type", "availability_zone"]
    search_fields = ["host", "hypervisor_hostname"]
    readonly_fields = [
        "uuid",
        "hypervisor_type",
        "hypervisor_version",
        "hypervisor_hostname",
        "libvirt_uri",
        "vcpus",
        "memory_mb",
        "local_gb",
        "cpu_info",
        "payload_version",
        "last_seen_at",
        "started_at",
        "usage",
        "unknown_domains",
        "cached_images",
    ]
    exclude = ["image_cache"]

    @admin.display(description="cached base images")
    def cached_images(self, node: ComputeNode) -> str:
        """Where images are cached: each base on this host, its size, in use or since when."""
        entries = []
        for entry in node.image_cache:
            use = "in use" if entry.get("in_use") else f"unused since {entry.get('last_used')}"
            entries.append(f"{entry.get('image_id')} ({entry.get('size')} bytes, {use})")
        return "; ".join(entries) or "none"

    @admin.display(description="state")
    def state(self, node: ComputeNode) -> str:
        return "up" if host_is_up(node) else "down"

    @admin.display(description="used / capacity")
    def usage(self, node: ComputeNode) -> str:
        usage = provider_usage(name=node.host)
        return ", ".join(f"{rc} {u['used']}/{u['capacity']}" for rc, u in usage.items())
