"""The JSON schemas of the image API's request bodies (Glance v2's shapes), one per
operation, given to `@body` on the views (cloud.api.schema): validated with and
documented in the OpenAPI document. Extra properties are the service's to check
(reserved and read-only names are a 403 there, as Glance's)."""

from django.conf import settings

from cloud.api.schema import UUID, integer, nullable, obj, string

_CORE = {
    "id": UUID,
    "name": nullable(string()),
    "visibility": {"enum": ["public", "private", "shared", "community"]},
    "protected": {"type": "boolean"},
    "os_hidden": {"type": "boolean"},
    "disk_format": {"enum": settings.IMAGE_DISK_FORMATS},
    "container_format": {"enum": settings.IMAGE_CONTAINER_FORMATS},
    "min_disk": integer(0),
    "min_ram": integer(0),
    "tags": {"type": "array", "items": string()},
    "owner": nullable(string()),
}
IMAGE_CREATE = obj(_CORE, closed=False)
# JSON patch (application/openstack-images-v2.1-json-patch): a list of operations.
IMAGE_PATCH = {
    "type": "array",
    "items": obj(
        {
            "op": {"enum": ["add", "replace", "remove"]},
            "path": string(min_length=2, pattern="^/"),
            "value": {},
        },
        "op",
        "path",
    ),
}
MEMBER_CREATE = obj({"member": string(min_length=1)}, "member")
# openstacksdk sends the member back beside its new status.
MEMBER_UPDATE = obj(
    {"status": {"enum": ["accepted", "rejected", "pending"]}, "member": string()}, "status"
)
