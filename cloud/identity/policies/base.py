"""The base rules the API rules are written in, as in Nova's and Keystone's defaults.

Roles imply each other (admin > member > reader) when the token is made, so
`role:reader` also matches members and admins.
"""

from oslo_policy import policy

ADMIN = "rule:context_is_admin"
COMPUTE_ADMIN = "rule:admin_api"
PROJECT_READER = "rule:project_reader_api"
PROJECT_MEMBER = "rule:project_member_api"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
ANYONE = "@"

RULES = [
    policy.RuleDefault("context_is_admin", "role:admin", "An administrator of the cloud."),
    policy.RuleDefault(
        "admin_api", "rule:context_is_admin", "An administrator of the compute API (Nova's name)."
    ),
    policy.RuleDefault(
        "project_reader_api",
        "role:reader and project_id:%(project_id)s",
        "A reader (or more) of the project that owns the target.",
    ),
    policy.RuleDefault(
        "project_member_api",
        "role:member and project_id:%(project_id)s",
        "A member (or more) of the project that owns the target.",
    ),
    policy.RuleDefault(
        "project_reader_or_admin",
        "rule:project_reader_api or rule:context_is_admin",
        "A reader of the owning project, or an administrator.",
    ),
    policy.RuleDefault(
        "project_member_or_admin",
        "rule:project_member_api or rule:context_is_admin",
        "A member of the owning project, or an administrator.",
    ),
]


def list_rules():
    return RULES
