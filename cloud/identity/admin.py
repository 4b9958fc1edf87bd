"""The Django admin of identity: domains, projects, users, roles, role assignments, and
tokens (read-only). Key pairs and quotas are registered by the modules that own them."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils import timezone

from cloud.identity.models import Domain, Project, Role, RoleAssignment, Token, User


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    autocomplete_fields = ["user", "project", "role"]


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "enabled", "description"]
    list_filter = ["enabled"]
    search_fields = ["name", "id"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "domain_id", "enabled"]
    list_filter = ["enabled", "domain_id"]
    search_fields = ["name", "id"]
    inlines = [RoleAssignmentInline]


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
