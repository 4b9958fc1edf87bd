"""Identity API rules, under Keystone's names.

Keystone lets project readers see their own project and users see themselves;
everything else about domains, projects, users, roles and grants is for
administrators.
"""

from oslo_policy import policy

from cloud.identity.policies.base import ADMIN, ANYONE

OWN_PROJECT = f"{ADMIN} or project_id:%(target.project.id)s"
SELF = f"{ADMIN} or user_id:%(target.user.id)s"
TOKEN_SUBJECT = f"{ADMIN} or user_id:%(target.token.user_id)s"

_OPERATIONS = {
    "domain": ("/identity/v3/domains", "/identity/v3/domains/{domain_id}"),
    "project": ("/identity/v3/projects", "/identity/v3/projects/{project_id}"),
    "user": ("/identity/v3/users", "/identity/v3/users/{user_id}"),
    "role": ("/identity/v3/roles", "/identity/v3/roles/{role_id}"),
}


def _crud(kind: str, get_check: str = ADMIN) -> list:
    collection, item = _OPERATIONS[kind]
    return [
        policy.DocumentedRuleDefault(
            f"identity:list_{kind}s",
            ADMIN,
            f"List {kind}s",
            [{"method": "GET", "path": collection}],
        ),
        policy.DocumentedRuleDefault(
            f"identity:get_{kind}", get_check, f"Show a {kind}", [{"method": "GET", "path": item}]
        ),
        policy.DocumentedRuleDefault(
            f"identity:create_{kind}",
            ADMIN,
            f"Create a {kind}",
            [{"method": "POST", "path": collection}],
        ),
        policy.DocumentedRuleDefault(
            f"identity:update_{kind}",
            ADMIN,
            f"Update a {kind}",
            [{"method": "PATCH", "path": item}],
        ),
        policy.DocumentedRuleDefault(
            f"identity:delete_{kind}",
            ADMIN,
            f"Delete a {kind}",
            [{"method": "DELETE", "path": item}],
        ),
    ]


GRANT = "/identity/v3/projects/{project_id}/users/{user_id}/roles"

RULES = [
    *_crud("domain"),
    *_crud("project", OWN_PROJECT),
    *_crud("user", SELF),
    *_crud("role"),
    policy.DocumentedRuleDefault(
        "identity:list_user_projects",
        SELF,
        "List the projects a user has roles on",
        [{"method": "GET", "path": "/identity/v3/users/{user_id}/projects"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:list_grants",
        ADMIN,
        "List a user's roles on a project",
        [{"method": "GET", "path": GRANT}],
    ),
    policy.DocumentedRuleDefault(
        "identity:check_grant",
        ADMIN,
        "Check a user's role on a project",
        [{"method": "HEAD", "path": GRANT + "/{role_id}"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:create_grant",
        ADMIN,
        "Give a user a role on a project",
        [{"method": "PUT", "path": GRANT + "/{role_id}"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:revoke_grant",
        ADMIN,
        "Take a role on a project from a user",
        [{"method": "DELETE", "path": GRANT + "/{role_id}"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:list_role_assignments",
        ADMIN,
        "List role assignments",
        [{"method": "GET", "path": "/identity/v3/role_assignments"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:get_auth_projects",
        ANYONE,
        "List the projects the caller's token can be scoped to",
        [{"method": "GET", "path": "/identity/v3/auth/projects"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:validate_token",
        TOKEN_SUBJECT,
        "Validate a token",
        [{"method": "GET", "path": "/identity/v3/auth/tokens"}],
    ),
    policy.DocumentedRuleDefault(
        "identity:revoke_token",
        TOKEN_SUBJECT,
        "Revoke a token",
        [{"method": "DELETE", "path": "/identity/v3/auth/tokens"}],
    ),
]


def list_rules():
    return RULES
