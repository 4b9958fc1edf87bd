"""Compute API rules, under Nova's names and with Nova's defaults."""

from oslo_policy import policy

from cloud.identity.policies.base import (
    ANYONE,
    COMPUTE_ADMIN,
    PROJECT_MEMBER_OR_ADMIN,
    PROJECT_READER_OR_ADMIN,
)

SERVERS = "os_compute_api:servers:%s"
KEYPAIRS = "os_compute_api:os-keypairs:%s"
QUOTAS = "os_compute_api:os-quota-sets:%s"
AGGREGATES = "os_compute_api:os-aggregates:%s"
SERVER_GROUPS = "os_compute_api:os-server-groups:%s"
KEYPAIR_OWNER = f"({COMPUTE_ADMIN}) or user_id:%(user_id)s"
ACTION = "/servers/{server_id}/action (%s)"
INSTANCE_ACTIONS = "os_compute_api:os-instance-actions:%s"
FLAVOR_MANAGE = "os_compute_api:os-flavor-manage:%s"
EXTRA_SPECS = "os_compute_api:os-flavor-extra-specs:%s"
FLAVOR_ACCESS = "os_compute_api:os-flavor-access"
SERVER_METADATA = "os_compute_api:server-metadata:%s"
EXTRA_SPEC = "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}"
METADATA_ITEM = "/servers/{server_id}/metadata/{key}"
INTERFACES = "os_compute_api:os-attach-interfaces:%s"
VOLUME_ATTACHMENTS = "os_compute_api:os-volumes-attachments:%s"
VOLUME_ATTACHMENT = "/servers/{server_id}/os-volume_attachments/{volume_id}"


def _rule(name: str, check: str, description: str, method: str, path: str):
    return policy.DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": method, "path": path}],
    )


RULES = [
    _rule(SERVERS % "index", PROJECT_READER_OR_ADMIN, "List servers", "GET", "/servers"),
    _rule(
        SERVERS % "detail",
        PROJECT_READER_OR_ADMIN,
        "List servers in detail",
        "GET",
        "/servers/detail",
    ),
    _rule(
        SERVERS % "index:get_all_tenants",
        COMPUTE_ADMIN,
        "List servers of every project",
        "GET",
        "/servers?all_tenants",
    ),
    _rule(
        SERVERS % "detail:get_all_tenants",
        COMPUTE_ADMIN,
        "List servers of every project in detail",
        "GET",
        "/servers/detail?all_tenants",
    ),
    _rule(
        SERVERS % "show", PROJECT_READER_OR_ADMIN, "Show a server", "GET", "/servers/{server_id}"
    ),
    _rule(SERVERS % "create", PROJECT_MEMBER_OR_ADMIN, "Create a server", "POST", "/servers"),
    _rule(
        SERVERS % "delete",
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server",
        "DELETE",
        "/servers/{server_id}",
    ),
    _rule(
        "os_compute_api:os-extended-server-attributes",
        COMPUTE_ADMIN,
        "Show a server's host, hypervisor and instance name",
        "GET",
        "/servers/{server_id}",
    ),
    _rule(
        "os_compute_api:os-server-diagnostics",
        COMPUTE_ADMIN,
        "Ask the hypervisor about a server",
        "GET",
        "/servers/{server_id}/diagnostics",
    ),
    _rule(
        SERVERS % "reboot", PROJECT_MEMBER_OR_ADMIN, "Reboot a server", "POST", ACTION % "reboot"
    ),
    _rule(SERVERS % "stop", PROJECT_MEMBER_OR_ADMIN, "Stop a server", "POST", ACTION % "os-stop"),
    _rule(
        SERVERS % "start", PROJECT_MEMBER_OR_ADMIN, "Start a server", "POST", ACTION % "os-start"
    ),
    _rule(
        "os_compute_api:os-pause-server:pause",
        PROJECT_MEMBER_OR_ADMIN,
        "Pause a server",
        "POST",
        ACTION % "pause",
    ),
    _rule(
        "os_compute_api:os-pause-server:unpause",
        PROJECT_MEMBER_OR_ADMIN,
        "Unpause a paused server",
        "POST",
        ACTION % "unpause",
    ),
    _rule(
        "os_compute_api:os-suspend-server:suspend",
        PROJECT_MEMBER_OR_ADMIN,
        "Suspend a server",
        "POST",
        ACTION % "suspend",
    ),
    _rule(
        "os_compute_api:os-suspend-server:resume",
        PROJECT_MEMBER_OR_ADMIN,
        "Resume a suspended server",
        "POST",
        ACTION % "resume",
    ),
    _rule(
        "os_compute_api:os-lock-server:lock",
        PROJECT_MEMBER_OR_ADMIN,
        "Lock a server",
        "POST",
        ACTION % "lock",
    ),
    _rule(
        "os_compute_api:os-lock-server:unlock",
        PROJECT_MEMBER_OR_ADMIN,
        "Unlock a server",
        "POST",
        ACTION % "unlock",
    ),
    _rule(
        "os_compute_api:os-lock-server:unlock:unlock_override",
        COMPUTE_ADMIN,
        "Unlock a server locked by someone else (an admin)",
        "POST",
        ACTION % "unlock",
    ),
    _rule(
        "os_compute_api:os-admin-actions:reset_state",
        COMPUTE_ADMIN,
        "Reset a server's state",
        "POST",
        ACTION % "os-resetState",
    ),
    _rule(
        "os_compute_api:os-console-output",
        PROJECT_MEMBER_OR_ADMIN,
        "Show a server's console output",
        "POST",
        ACTION % "os-getConsoleOutput",
    ),
    policy.DocumentedRuleDefault(
        name="os_compute_api:os-remote-consoles",
        check_str=PROJECT_MEMBER_OR_ADMIN,
        description="Get a remote console URL of a server (VNC, SPICE, serial)",
        operations=[
            {"method": "POST", "path": "/servers/{server_id}/remote-consoles"},
            {"method": "POST", "path": ACTION % "os-getVNCConsole"},
            {"method": "POST", "path": ACTION % "os-getSPICEConsole"},
            {"method": "POST", "path": ACTION % "os-getSerialConsole"},
        ],
    ),
    _rule(
        "os_compute_api:os-console-auth-tokens",
        COMPUTE_ADMIN,
        "Show what a console authorization token grants",
        "GET",
        "/os-console-auth-tokens/{console_token}",
    ),
    _rule(
        SERVERS % "rebuild",
        PROJECT_MEMBER_OR_ADMIN,
        "Rebuild a server from an image",
        "POST",
        ACTION % "rebuild",
    ),
    _rule(
        SERVERS % "create_image",
        PROJECT_MEMBER_OR_ADMIN,
        "Create an image from a server (a snapshot)",
        "POST",
        ACTION % "createImage",
    ),
    _rule(
        "os_compute_api:os-evacuate",
        COMPUTE_ADMIN,
        "Evacuate a server from a failed host to another one",
        "POST",
        ACTION % "evacuate",
    ),
    _rule(
        INTERFACES % "list",
        PROJECT_READER_OR_ADMIN,
        "List a server's interfaces",
        "GET",
        "/servers/{server_id}/os-interface",
    ),
    _rule(
        INTERFACES % "show",
        PROJECT_READER_OR_ADMIN,
        "Show a server's interface",
        "GET",
        "/servers/{server_id}/os-interface/{port_id}",
    ),
    _rule(
        INTERFACES % "create",
        PROJECT_MEMBER_OR_ADMIN,
        "Attach an interface to a server",
        "POST",
        "/servers/{server_id}/os-interface",
    ),
    _rule(
        INTERFACES % "delete",
        PROJECT_MEMBER_OR_ADMIN,
        "Detach an interface from a server",
        "DELETE",
        "/servers/{server_id}/os-interface/{port_id}",
    ),
    _rule(
        VOLUME_ATTACHMENTS % "index",
        PROJECT_READER_OR_ADMIN,
        "List a server's volume attachments",
        "GET",
        "/servers/{server_id}/os-volume_attachments",
    ),
    _rule(
        VOLUME_ATTACHMENTS % "show",
        PROJECT_READER_OR_ADMIN,
        "Show a server's volume attachment",
        "GET",
        VOLUME_ATTACHMENT,
    ),
    _rule(
        VOLUME_ATTACHMENTS % "create",
        PROJECT_MEMBER_OR_ADMIN,
        "Attach a volume to a server",
        "POST",
        "/servers/{server_id}/os-volume_attachments",
    ),
    _rule(
        VOLUME_ATTACHMENTS % "update",
        PROJECT_MEMBER_OR_ADMIN,
        "Change a volume attachment's delete_on_termination",
        "PUT",
        VOLUME_ATTACHMENT,
    ),
    _rule(
        VOLUME_ATTACHMENTS % "swap",
        COMPUTE_ADMIN,
        "Swap a server's volume for another",
        "PUT",
        VOLUME_ATTACHMENT,
    ),
    _rule(
        VOLUME_ATTACHMENTS % "delete",
        PROJECT_MEMBER_OR_ADMIN,
        "Detach a volume from a server",
        "DELETE",
        VOLUME_ATTACHMENT,
    ),
    _rule(
        INSTANCE_ACTIONS % "list",
        PROJECT_READER_OR_ADMIN,
        "List a server's actions",
        "GET",
        "/servers/{server_id}/os-instance-actions",
    ),
    _rule(
        INSTANCE_ACTIONS % "show",
        PROJECT_READER_OR_ADMIN,
        "Show a server's action",
        "GET",
        "/servers/{server_id}/os-instance-actions/{request_id}",
    ),
    _rule(
        INSTANCE_ACTIONS % "events",
        COMPUTE_ADMIN,
        "Show an action's events with tracebacks and hosts (others see events from 2.51)",
        "GET",
        "/servers/{server_id}/os-instance-actions/{request_id}",
    ),
    _rule(
        INSTANCE_ACTIONS % "events:details",
        PROJECT_READER_OR_ADMIN,
        "Show the details of an action's events (from 2.84)",
        "GET",
        "/servers/{server_id}/os-instance-actions/{request_id}",
    ),
    _rule(KEYPAIRS % "index", KEYPAIR_OWNER, "List a user's keypairs", "GET", "/os-keypairs"),
    _rule(KEYPAIRS % "create", KEYPAIR_OWNER, "Create or import a keypair", "POST", "/os-keypairs"),
    _rule(KEYPAIRS % "show", KEYPAIR_OWNER, "Show a keypair", "GET", "/os-keypairs/{keypair_name}"),
    _rule(
        KEYPAIRS % "delete",
        KEYPAIR_OWNER,
        "Delete a keypair",
        "DELETE",
        "/os-keypairs/{keypair_name}",
    ),
    _rule(
        QUOTAS % "show",
        PROJECT_READER_OR_ADMIN,
        "Show a project's quotas",
        "GET",
        "/os-quota-sets/{tenant_id}",
    ),
    _rule(
        QUOTAS % "detail",
        PROJECT_READER_OR_ADMIN,
        "Show a project's quotas and usage",
        "GET",
        "/os-quota-sets/{tenant_id}/detail",
    ),
    _rule(
        QUOTAS % "defaults",
        ANYONE,
        "Show the default quotas",
        "GET",
        "/os-quota-sets/{tenant_id}/defaults",
    ),
    _rule(
        QUOTAS % "update",
        COMPUTE_ADMIN,
        "Set a project's (or a user's) quotas",
        "PUT",
        "/os-quota-sets/{tenant_id}",
    ),
    _rule(
        QUOTAS % "delete",
        COMPUTE_ADMIN,
        "Revert a project's quotas to the defaults",
        "DELETE",
        "/os-quota-sets/{tenant_id}",
    ),
    _rule("os_compute_api:limits", ANYONE, "Show the caller's limits and usage", "GET", "/limits"),
    _rule(
        "os_compute_api:limits:other_project",
        COMPUTE_ADMIN,
        "Show another project's limits",
        "GET",
        "/limits?tenant_id",
    ),
    _rule(
        "os_compute_api:os-services:list",
        COMPUTE_ADMIN,
        "List compute services",
        "GET",
        "/os-services",
    ),
    _rule(
        "os_compute_api:os-services:update",
        COMPUTE_ADMIN,
        "Enable, disable or force down a compute service",
        "PUT",
        "/os-services/{service_id}",
    ),
    _rule(
        "os_compute_api:os-hypervisors:list",
        COMPUTE_ADMIN,
        "List hypervisors",
        "GET",
        "/os-hypervisors",
    ),
    _rule(
        "os_compute_api:os-hypervisors:list-detail",
        COMPUTE_ADMIN,
        "List hypervisors in detail",
        "GET",
        "/os-hypervisors/detail",
    ),
    _rule(
        "os_compute_api:os-hypervisors:show",
        COMPUTE_ADMIN,
        "Show a hypervisor and its usage",
        "GET",
        "/os-hypervisors/{hypervisor_id}",
    ),
    _rule(
        "os_compute_api:os-availability-zone:list",
        ANYONE,
        "List availability zones",
        "GET",
        "/os-availability-zone",
    ),
    _rule(
        "os_compute_api:os-availability-zone:detail",
        COMPUTE_ADMIN,
        "List availability zones with their hosts",
        "GET",
        "/os-availability-zone/detail",
    ),
    _rule(
        SERVERS % "create:forced_host",
        COMPUTE_ADMIN,
        "Create a server on a named host (availability_zone 'zone:host[:node]')",
        "POST",
        "/servers",
    ),
    _rule(AGGREGATES % "index", COMPUTE_ADMIN, "List host aggregates", "GET", "/os-aggregates"),
    _rule(
        AGGREGATES % "create", COMPUTE_ADMIN, "Create a host aggregate", "POST", "/os-aggregates"
    ),
    _rule(
        AGGREGATES % "show",
        COMPUTE_ADMIN,
        "Show a host aggregate",
        "GET",
        "/os-aggregates/{aggregate_id}",
    ),
    _rule(
        AGGREGATES % "update",
        COMPUTE_ADMIN,
        "Rename a host aggregate or change its availability zone",
        "PUT",
        "/os-aggregates/{aggregate_id}",
    ),
    _rule(
        AGGREGATES % "delete",
        COMPUTE_ADMIN,
        "Delete an empty host aggregate",
        "DELETE",
        "/os-aggregates/{aggregate_id}",
    ),
    _rule(
        AGGREGATES % "add_host",
        COMPUTE_ADMIN,
        "Add a host to an aggregate",
        "POST",
        "/os-aggregates/{aggregate_id}/action (add_host)",
    ),
    _rule(
        AGGREGATES % "remove_host",
        COMPUTE_ADMIN,
        "Remove a host from an aggregate",
        "POST",
        "/os-aggregates/{aggregate_id}/action (remove_host)",
    ),
    _rule(
        AGGREGATES % "set_metadata",
        COMPUTE_ADMIN,
        "Set or remove metadata of an aggregate",
        "POST",
        "/os-aggregates/{aggregate_id}/action (set_metadata)",
    ),
    _rule(
        SERVER_GROUPS % "index",
        PROJECT_READER_OR_ADMIN,
        "List the project's server groups",
        "GET",
        "/os-server-groups",
    ),
    _rule(
        SERVER_GROUPS % "index:all_projects",
        COMPUTE_ADMIN,
        "List the server groups of every project",
        "GET",
        "/os-server-groups?all_projects",
    ),
    _rule(
        SERVER_GROUPS % "show",
        PROJECT_READER_OR_ADMIN,
        "Show a server group",
        "GET",
        "/os-server-groups/{server_group_id}",
    ),
    _rule(
        SERVER_GROUPS % "create",
        PROJECT_MEMBER_OR_ADMIN,
        "Create a server group",
        "POST",
        "/os-server-groups",
    ),
    _rule(
        SERVER_GROUPS % "delete",
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server group",
        "DELETE",
        "/os-server-groups/{server_group_id}",
    ),
    _rule(
        SERVERS % "resize", PROJECT_MEMBER_OR_ADMIN, "Resize a server", "POST", ACTION % "resize"
    ),
    _rule(
        SERVERS % "confirm_resize",
        PROJECT_MEMBER_OR_ADMIN,
        "Confirm a server's resize",
        "POST",
        ACTION % "confirmResize",
    ),
    _rule(
        SERVERS % "revert_resize",
        PROJECT_MEMBER_OR_ADMIN,
        "Revert a server's resize",
        "POST",
        ACTION % "revertResize",
    ),
    _rule(FLAVOR_MANAGE % "create", COMPUTE_ADMIN, "Create a flavor", "POST", "/flavors"),
    _rule(
        FLAVOR_MANAGE % "update",
        COMPUTE_ADMIN,
        "Update a flavor's description",
        "PUT",
        "/flavors/{flavor_id}",
    ),
    _rule(
        FLAVOR_MANAGE % "delete", COMPUTE_ADMIN, "Delete a flavor", "DELETE", "/flavors/{flavor_id}"
    ),
    _rule(
        EXTRA_SPECS % "index",
        PROJECT_READER_OR_ADMIN,
        "List a flavor's extra specs (and see them in flavors from 2.61)",
        "GET",
        "/flavors/{flavor_id}/os-extra_specs",
    ),
    _rule(
        EXTRA_SPECS % "show",
        PROJECT_READER_OR_ADMIN,
        "Show a flavor's extra spec",
        "GET",
        EXTRA_SPEC,
    ),
    _rule(
        EXTRA_SPECS % "create",
        COMPUTE_ADMIN,
        "Set extra specs of a flavor",
        "POST",
        "/flavors/{flavor_id}/os-extra_specs",
    ),
    _rule(EXTRA_SPECS % "update", COMPUTE_ADMIN, "Set a flavor's extra spec", "PUT", EXTRA_SPEC),
    _rule(
        EXTRA_SPECS % "delete", COMPUTE_ADMIN, "Unset a flavor's extra spec", "DELETE", EXTRA_SPEC
    ),
    _rule(
        FLAVOR_ACCESS,
        COMPUTE_ADMIN,
        "List the projects a private flavor is shared with",
        "GET",
        "/flavors/{flavor_id}/os-flavor-access",
    ),
    _rule(
        f"{FLAVOR_ACCESS}:add_tenant_access",
        COMPUTE_ADMIN,
        "Share a private flavor with a project",
        "POST",
        "/flavors/{flavor_id}/action (addTenantAccess)",
    ),
    _rule(
        f"{FLAVOR_ACCESS}:remove_tenant_access",
        COMPUTE_ADMIN,
        "Stop sharing a private flavor with a project",
        "POST",
        "/flavors/{flavor_id}/action (removeTenantAccess)",
    ),
    _rule(
        SERVER_METADATA % "index",
        PROJECT_READER_OR_ADMIN,
        "List a server's metadata",
        "GET",
        "/servers/{server_id}/metadata",
    ),
    _rule(
        SERVER_METADATA % "show",
        PROJECT_READER_OR_ADMIN,
        "Show one metadata item of a server",
        "GET",
        METADATA_ITEM,
    ),
    _rule(
        SERVER_METADATA % "create",
        PROJECT_MEMBER_OR_ADMIN,
        "Add or change metadata items of a server",
        "POST",
        "/servers/{server_id}/metadata",
    ),
    _rule(
        SERVER_METADATA % "update_all",
        PROJECT_MEMBER_OR_ADMIN,
        "Replace a server's metadata",
        "PUT",
        "/servers/{server_id}/metadata",
    ),
    _rule(
        SERVER_METADATA % "update",
        PROJECT_MEMBER_OR_ADMIN,
        "Set one metadata item of a server",
        "PUT",
        METADATA_ITEM,
    ),
    _rule(
        SERVER_METADATA % "delete",
        PROJECT_MEMBER_OR_ADMIN,
        "Delete one metadata item of a server",
        "DELETE",
        METADATA_ITEM,
    ),
    _rule(
        "os_compute_api:os-migrations:index",
        COMPUTE_ADMIN,
        "List migrations (resizes) of every project",
        "GET",
        "/os-migrations",
    ),
]


def list_rules():
    return RULES
