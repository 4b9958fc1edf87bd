"""Glance v2 bodies: an image as Glance shows it, its custom properties at the top level."""

from cloud.images.models import Image


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_body(image: Image) -> dict:
    body = {
        "id": str(image.id),
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner or None,
        "protected": image.protected,
        "os_hidden": False,
        "disk_format": image.disk_format or None,
        "container_format": image.container_format or None,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum or None,
        "os_hash_algo": image.os_hash_algo or None,
        "os_hash_value": image.os_hash_value or None,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "tags": [],
        "created_at": _iso(image.created_at),
        "updated_at": _iso(image.updated_at),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    for key, value in image.properties.items():
        body.setdefault(key, value)
    return body
