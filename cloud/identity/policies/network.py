"""Network API rules, under Neutron's names and with its defaults. Which rows a caller
sees (own, shared, external) is the network app's selectors' filter; these rules say
who may call, and which attributes only an admin may set."""

from oslo_policy import policy

from cloud.identity.policies.base import ADMIN, PROJECT_MEMBER_OR_ADMIN, PROJECT_READER_OR_ADMIN

RESOURCES = {
    "network": "/network/v2.0/networks",
    "subnet": "/network/v2.0/subnets",
    "port": "/network/v2.0/ports",
    "security_group": "/network/v2.0/security-groups",
    "security_group_rule": "/network/v2.0/security-group-rules",
    "floatingip": "/network/v2.0/floatingips",
}
ADMIN_ONLY = [
    "create_network:shared",
    "create_network:router:external",
    "create_network:provider:network_type",
    "create_network:provider:physical_network",
    "create_network:provider:segmentation_id",
    "update_network:shared",
    "update_network:router:external",
    "create_port:binding:host_id",
    "update_port:binding:host_id",
    "get_quota:other_project",
]


def _rules():
    rules = []
    for resource, path in RESOURCES.items():
        for verb, check, method, where in (
            ("get", PROJECT_READER_OR_ADMIN, "GET", f"{path}/{{id}}"),
            ("create", PROJECT_MEMBER_OR_ADMIN, "POST", path),
            ("update", PROJECT_MEMBER_OR_ADMIN, "PUT", f"{path}/{{id}}"),
            ("delete", PROJECT_MEMBER_OR_ADMIN, "DELETE", f"{path}/{{id}}"),
        ):
            rules.append(
                policy.DocumentedRuleDefault(
                    f"{verb}_{resource}",
                    check,
                    f"{verb.capitalize()} a {resource.replace('_', ' ')}",
                    [{"method": method, "path": where}],
                )
            )
    for name in ADMIN_ONLY:
        verb = name.split("_")[0]
        rules.append(
            policy.DocumentedRuleDefault(
                name,
                ADMIN,
                f"Set {name.split(':', 1)[1]} ({verb})",
                [{"method": "POST", "path": "/network/v2.0"}],
            )
        )
    rules.append(
        policy.DocumentedRuleDefault(
            "get_quota",
            PROJECT_READER_OR_ADMIN,
            "Show a project's network quotas",
            [{"method": "GET", "path": "/network/v2.0/quotas/{project_id}"}],
        )
    )
    rules.append(
        policy.DocumentedRuleDefault(
            "update_quota",
            ADMIN,
            "Set a project's network quotas",
            [{"method": "PUT", "path": "/network/v2.0/quotas/{project_id}"}],
        )
    )
    rules.append(
        policy.DocumentedRuleDefault(
            "delete_quota",
            ADMIN,
            "Reset a project's network quotas to the defaults",
            [{"method": "DELETE", "path": "/network/v2.0/quotas/{project_id}"}],
        )
    )
    return rules


RULES = _rules()


def list_rules():
    return RULES
