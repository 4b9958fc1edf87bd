"""Glance v2 bodies: an image as Glance shows it (its custom properties at the top
level), an image member."""

from cloud.images.models import Image, ImageMember


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
        "os_hidden": image.os_hidden,
        "disk_format": image.disk_format or None,
        "container_format": image.container_format or None,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum or None,
        "os_hash_algo": image.os_hash_algo or None,
        "os_hash_value": image.os_hash_value or None,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "tags": list(image.tags),
        "created_at": _iso(image.created_at),
        "updated_at": _iso(image.updated_at),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    for key, value in image.properties.items():
        body.setdefault(key, value)
    return body


def member_body(member: ImageMember) -> dict:
    return {
        "image_id": str(member.image_id),
        "member_id": member.member,
        "status": member.status,
        "created_at": _iso(member.created_at),
        "updated_at": _iso(member.updated_at),
        "schema": "/v2/schemas/member",
    }
