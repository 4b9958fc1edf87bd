"""Placement API rules, under Placement's names. Placement's defaults admit only
administrators (and services), so every rule here defaults to an administrator."""

from oslo_policy import policy

from cloud.identity.policies.base import ADMIN

RP = "/placement/resource_providers"

# (name, description, [(method, path), ...])
_OPERATIONS = [
    ("resource_providers:list", "List resource providers.", [("GET", RP)]),
    ("resource_providers:create", "Create resource provider.", [("POST", RP)]),
    ("resource_providers:show", "Show resource provider.", [("GET", f"{RP}/{{uuid}}")]),
    ("resource_providers:update", "Update resource provider.", [("PUT", f"{RP}/{{uuid}}")]),
    ("resource_providers:delete", "Delete resource provider.", [("DELETE", f"{RP}/{{uuid}}")]),
    (
        "resource_providers:inventories:list",
        "List resource provider inventories.",
        [("GET", f"{RP}/{{uuid}}/inventories")],
    ),
    (
        "resource_providers:inventories:create",
        "Create one resource provider inventory.",
        [("POST", f"{RP}/{{uuid}}/inventories")],
    ),
    (
        "resource_providers:inventories:show",
        "Show resource provider inventory.",
        [("GET", f"{RP}/{{uuid}}/inventories/{{resource_class}}")],
    ),
    (
        "resource_providers:inventories:update",
        "Update resource provider inventory.",
        [
            ("PUT", f"{RP}/{{uuid}}/inventories"),
            ("PUT", f"{RP}/{{uuid}}/inventories/{{resource_class}}"),
        ],
    ),
    (
        "resource_providers:inventories:delete",
        "Delete resource provider inventory.",
        [
            ("DELETE", f"{RP}/{{uuid}}/inventories"),
            ("DELETE", f"{RP}/{{uuid}}/inventories/{{resource_class}}"),
        ],
    ),
    (
        "resource_providers:aggregates:list",
        "List resource provider aggregates.",
        [("GET", f"{RP}/{{uuid}}/aggregates")],
    ),
    (
        "resource_providers:aggregates:update",
        "Update resource provider aggregates.",
        [("PUT", f"{RP}/{{uuid}}/aggregates")],
    ),
    (
        "resource_providers:usages",
        "List resource provider usages.",
        [("GET", f"{RP}/{{uuid}}/usages")],
    ),
    (
        "usages",
        "List total resource usages for a given project.",
        [("GET", "/placement/usages")],
    ),
    (
        "resource_providers:traits:list",
        "List resource provider traits.",
        [("GET", f"{RP}/{{uuid}}/traits")],
    ),
    (
        "resource_providers:traits:update",
        "Update resource provider traits.",
        [("PUT", f"{RP}/{{uuid}}/traits")],
    ),
    (
        "resource_providers:traits:delete",
        "Delete resource provider traits.",
        [("DELETE", f"{RP}/{{uuid}}/traits")],
    ),
    (
        "resource_providers:allocations:list",
        "List resource provider allocations.",
        [("GET", f"{RP}/{{uuid}}/allocations")],
    ),
    ("traits:list", "List traits.", [("GET", "/placement/traits")]),
    ("traits:show", "Show trait.", [("GET", "/placement/traits/{name}")]),
    ("traits:update", "Update trait.", [("PUT", "/placement/traits/{name}")]),
    ("traits:delete", "Delete trait.", [("DELETE", "/placement/traits/{name}")]),
    ("resource_classes:list", "List resource classes.", [("GET", "/placement/resource_classes")]),
    (
        "resource_classes:create",
        "Create resource class.",
        [("POST", "/placement/resource_classes")],
    ),
    (
        "resource_classes:show",
        "Show resource class.",
        [("GET", "/placement/resource_classes/{name}")],
    ),
    (
        "resource_classes:update",
        "Update resource class.",
        [("PUT", "/placement/resource_classes/{name}")],
    ),
    (
        "resource_classes:delete",
        "Delete resource class.",
        [("DELETE", "/placement/resource_classes/{name}")],
    ),
    ("allocations:list", "List allocations.", [("GET", "/placement/allocations/{consumer_uuid}")]),
    ("allocations:manage", "Manage allocations.", [("POST", "/placement/allocations")]),
    (
        "allocations:update",
        "Update allocations.",
        [("PUT", "/placement/allocations/{consumer_uuid}")],
    ),
    (
        "allocations:delete",
        "Delete allocations.",
        [("DELETE", "/placement/allocations/{consumer_uuid}")],
    ),
    (
        "allocation_candidates:list",
        "List allocation candidates.",
        [("GET", "/placement/allocation_candidates")],
    ),
]

RULES = [
    policy.DocumentedRuleDefault(
        f"placement:{name}",
        ADMIN,
        description,
        [{"method": method, "path": path} for method, path in operations],
    )
    for name, description, operations in _OPERATIONS
]


def list_rules():
    return RULES
