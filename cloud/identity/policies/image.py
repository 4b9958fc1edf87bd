"""Image API rules, under Glance's names. Visibility (public, shared, own) filters rows
first; the image services then let only the owner's project (or an admin) change an
image, and only a member answer for its membership."""

from oslo_policy import policy

from cloud.identity.policies.base import PROJECT_MEMBER_OR_ADMIN, PROJECT_READER_OR_ADMIN

IMAGES = "/image/v2/images"
ONE = f"{IMAGES}/{{image_id}}"

_RULES = [
    ("get_images", PROJECT_READER_OR_ADMIN, "List images", "GET", IMAGES),
    ("get_image", PROJECT_READER_OR_ADMIN, "Show an image", "GET", ONE),
    ("add_image", PROJECT_MEMBER_OR_ADMIN, "Create an image", "POST", IMAGES),
    ("modify_image", PROJECT_MEMBER_OR_ADMIN, "Update an image", "PATCH", ONE),
    ("delete_image", PROJECT_MEMBER_OR_ADMIN, "Delete an image", "DELETE", ONE),
    ("upload_image", PROJECT_MEMBER_OR_ADMIN, "Upload data", "PUT", f"{ONE}/file"),
    ("download_image", PROJECT_READER_OR_ADMIN, "Download data", "GET", f"{ONE}/file"),
    (
        "deactivate",
        PROJECT_MEMBER_OR_ADMIN,
        "Deactivate an image",
        "POST",
        f"{ONE}/actions/deactivate",
    ),
    (
        "reactivate",
        PROJECT_MEMBER_OR_ADMIN,
        "Reactivate an image",
        "POST",
        f"{ONE}/actions/reactivate",
    ),
    ("get_members", PROJECT_READER_OR_ADMIN, "List members", "GET", f"{ONE}/members"),
    ("add_member", PROJECT_MEMBER_OR_ADMIN, "Add a member", "POST", f"{ONE}/members"),
    (
        "modify_member",
        PROJECT_MEMBER_OR_ADMIN,
        "Accept or reject a membership",
        "PUT",
        f"{ONE}/members/{{member_id}}",
    ),
    (
        "delete_member",
        PROJECT_MEMBER_OR_ADMIN,
        "Remove a member",
        "DELETE",
        f"{ONE}/members/{{member_id}}",
    ),
]

RULES = [
    policy.DocumentedRuleDefault(name, check, description, [{"method": method, "path": path}])
    for name, check, description, method, path in _RULES
]


def list_rules():
    return RULES
