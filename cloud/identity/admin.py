from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from cloud.identity.models import Project, Role, RoleAssignment, Token, User


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    autocomplete_fields = ["user", "project", "role"]


@admin.register(User)
class StratusUserAdmin(UserAdmin):
    list_display = ["username", "id", "default_project", "is_active", "is_staff"]
    fieldsets = (*UserAdmin.fieldsets, ("Cloud", {"fields": ["domain_id", "default_project"]}))
    inlines = [RoleAssignmentInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "domain_id", "enabled"]
    list_filter = ["enabled", "domain_id"]
    search_fields = ["name", "id"]
    inlines = [RoleAssignmentInline]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "id"]
    search_fields = ["name"]


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["audit_id", "user", "project", "issued_at", "expires_at", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["user__username", "audit_id"]
    readonly_fields = ["digest", "user", "project", "issued_at", "expires_at", "audit_id"]
