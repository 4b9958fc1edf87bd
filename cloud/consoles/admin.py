"""Operators see the consoles hosts reported and the tokens outstanding (never a token
itself: only its hash is stored)."""

from django.contrib import admin

from cloud.consoles.models import ConsoleAuthToken, ConsoleEndpoint


@admin.register(ConsoleEndpoint)
class ConsoleEndpointAdmin(admin.ModelAdmin):
    list_display = ["instance_uuid", "kind", "compute_host", "host", "port", "updated_at"]
    list_filter = ["kind", "compute_host"]
    search_fields = ["instance_uuid"]
    readonly_fields = [f.name for f in ConsoleEndpoint._meta.fields]


@admin.register(ConsoleAuthToken)
class ConsoleAuthTokenAdmin(admin.ModelAdmin):
    list_display = [
        "instance_uuid",
        "console_type",
        "compute_host",
        "port",
        "created_at",
        "expires_at",
        "used_at",
    ]
    list_filter = ["console_type"]
    search_fields = ["instance_uuid"]
    readonly_fields = [f.name for f in ConsoleAuthToken._meta.fields]
