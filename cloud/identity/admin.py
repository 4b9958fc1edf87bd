"""The Django admin of identity: domains, projects (with their role assignments, quota
limits and live usage against them), users, roles, role assignments, key pairs and
tokens (read-only)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils import timezone
from django.utils.html import format_html_join

from cloud.identity import quotas
from cloud.identity.models import (
    Domain,
    KeyPair,
    Project,
    Quota,
    Role,
    RoleAssignment,
    Token,
    User,
)


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    autocomplete_fields = ["user", "project", "role"]


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "enabled", "description"]
    list_filter = ["enabled"]
    search_fields = ["name", "id"]


class QuotaInline(admin.TabularInline):
    """Limits an admin set for the project (no user) or for one user in it; -1 is
    unlimited, and a resource without a row takes the default."""

    model = Quota
    extra = 0
    fields = ["resource", "user", "hard_limit", "updated_at"]
    readonly_fields = ["updated_at"]
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "domain_id", "enabled"]
    list_filter = ["enabled", "domain_id"]
    search_fields = ["name", "id"]
    readonly_fields = ["usage_against_quotas"]
    inlines = [RoleAssignmentInline, QuotaInline]

    @admin.display(description="Usage against quotas")
    def usage_against_quotas(self, project: Project) -> str:
        if project.pk is None:
            return "-"
        rows = sorted(quotas.usages(project_id=project.pk).items())
        return format_html_join(
            "",
            "<div><b>{}</b>: {} used of {}</div>",
            (
                (name, used.in_use, "unlimited" if used.limit < 0 else used.limit)
                for name, used in rows
            ),
        )


@admin.register(User)
class StratusUserAdmin(UserAdmin):
    list_display = ["username", "id", "domain_id", "default_project", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "domain_id"]
    search_fields = ["username", "id", "email"]
    autocomplete_fields = ["default_project"]
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Cloud", {"fields": ["domain_id", "default_project", "description"]}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("Cloud", {"fields": ["domain_id", "default_project"]}),
    )
    inlines = [RoleAssignmentInline]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "description"]
    search_fields = ["name"]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "project"]
    list_filter = ["role"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project", "role"]
    list_select_related = ["user", "project", "role"]


@admin.register(KeyPair)
class KeyPairAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "type", "fingerprint", "created_at"]
    list_filter = ["type"]
    search_fields = ["name", "user__username", "fingerprint"]
    list_select_related = ["user"]
    readonly_fields = ["fingerprint", "created_at"]


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    """Who holds tokens, for what, until when: read-only. The secret itself is never
    stored (the key is its SHA-256 digest, which is no credential)."""

    list_display = [
        "audit_id",
        "user",
        "project",
        "methods",
        "issued_at",
        "expires_at",
        "expired",
        "revoked",
    ]
    list_filter = ["revoked", "methods"]
    search_fields = ["user__username", "project__name", "audit_id"]
    list_select_related = ["user", "project"]
    fields = ["audit_id", "user", "project", "methods", "issued_at", "expires_at", "revoked"]
    readonly_fields = fields

    @admin.display(boolean=True)
    def expired(self, token: Token) -> bool:
        return token.expires_at <= timezone.now()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
