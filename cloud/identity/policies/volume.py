"""Block-storage API rules, under Cinder's names and with its defaults. Which rows a
caller sees (its project's; an admin's: any) is the volumes app's selectors' filter."""

from oslo_policy import policy

from cloud.identity.policies.base import ADMIN, PROJECT_MEMBER_OR_ADMIN, PROJECT_READER_OR_ADMIN

P = "/volume/v3/{project_id}"
RULES_TABLE = (
    ("volume:get", PROJECT_READER_OR_ADMIN, "GET", f"{P}/volumes/{{id}}", "Show a volume"),
    ("volume:get_all", PROJECT_READER_OR_ADMIN, "GET", f"{P}/volumes", "List volumes"),
    ("volume:create", PROJECT_MEMBER_OR_ADMIN, "POST", f"{P}/volumes", "Create a volume"),
    ("volume:update", PROJECT_MEMBER_OR_ADMIN, "PUT", f"{P}/volumes/{{id}}", "Update a volume"),
    ("volume:delete", PROJECT_MEMBER_OR_ADMIN, "DELETE", f"{P}/volumes/{{id}}", "Delete a volume"),
    ("volume:extend", PROJECT_MEMBER_OR_ADMIN, "POST", f"{P}/volumes/{{id}}/action", "Extend"),
    (
        "volume_extension:volume_admin_actions:reset_status",
        ADMIN,
        "POST",
        f"{P}/volumes/{{id}}/action",
        "Reset a volume's status (os-reset_status)",
    ),
    (
        "volume_extension:snapshot_admin_actions:reset_status",
        ADMIN,
        "POST",
        f"{P}/snapshots/{{id}}/action",
        "Reset a snapshot's status",
    ),
    ("volume:create_snapshot", PROJECT_MEMBER_OR_ADMIN, "POST", f"{P}/snapshots", "Snapshot"),
    ("volume:get_snapshot", PROJECT_READER_OR_ADMIN, "GET", f"{P}/snapshots/{{id}}", "Show"),
    ("volume:delete_snapshot", PROJECT_MEMBER_OR_ADMIN, "DELETE", f"{P}/snapshots/{{id}}", "Del"),
    ("volume_extension:types_manage", ADMIN, "POST", f"{P}/types", "Manage volume types"),
    (
        "volume_extension:all_tenants",
        ADMIN,
        "GET",
        f"{P}/volumes?all_tenants=1",
        "List the volumes of every project",
    ),
    (
        "volume_extension:quotas:show",
        PROJECT_READER_OR_ADMIN,
        "GET",
        f"{P}/os-quota-sets/{{id}}",
        "Q",
    ),
    ("volume_extension:quotas:update", ADMIN, "PUT", f"{P}/os-quota-sets/{{id}}", "Set quotas"),
    ("volume_extension:quotas:delete", ADMIN, "DELETE", f"{P}/os-quota-sets/{{id}}", "Reset"),
    ("volume_extension:services:index", ADMIN, "GET", f"{P}/os-services", "List volume services"),
)

RULES = [
    policy.DocumentedRuleDefault(name, check, description, [{"method": method, "path": path}])
    for name, check, method, path, description in RULES_TABLE
]


def list_rules():
    return RULES
