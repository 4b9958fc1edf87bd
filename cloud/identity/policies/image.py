"""Image API rules, under Glance's names. Visibility (public, shared, own) filters rows first."""

from oslo_policy import policy

from cloud.identity.policies.base import PROJECT_READER_OR_ADMIN

RULES = [
    policy.DocumentedRuleDefault(
        "get_images",
        PROJECT_READER_OR_ADMIN,
        "List images",
        [{"method": "GET", "path": "/image/v2/images"}],
    ),
    policy.DocumentedRuleDefault(
        "get_image",
        PROJECT_READER_OR_ADMIN,
        "Show an image",
        [{"method": "GET", "path": "/image/v2/images/{image_id}"}],
    ),
]


def list_rules():
    return RULES
