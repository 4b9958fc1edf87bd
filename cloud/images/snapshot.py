"""Snapshot images: the image record a server's createImage writes, through its life.

The api creates it `queued` (Nova's snapshot image: the server's project owns it,
its properties name the server and inherit the base image's); the host uploads
the disk to the image API (`PUT /image/v2/images/{id}/file` with an upload
transfer token), which takes it through `saving` to `active` like any upload.
The conductor deletes it when the snapshot failed (Nova deletes the image of a
failed snapshot). Each write expects the status before it, so a redelivered
report changes nothing.
"""

from django.utils import timezone

from cloud.images.choices import ImageStatus, Visibility
from cloud.images.models import Image

# Nova's non-inheritable image properties: what describes the base image's own data
# or signature, not the guest (nova.conf [DEFAULT] non_inheritable_image_properties).
NOT_INHERITED = {
    "cache_in_nova",
    "bittorrent",
    "img_signature",
    "img_signature_hash_method",
    "img_signature_certificate_uuid",
    "img_signature_key_type",
    "image_type",
    "instance_uuid",
    "base_image_ref",
    "user_id",
}


def image_snapshot_create(
    *,
    name: str,
    metadata: dict[str, str],
    instance_uuid: str,
    project_id: str,
    user_id: str,
    base_image: dict,
) -> Image:
    """A queued, private image for a snapshot of the server (its project owns it)."""
    inherited = {
        k: v for k, v in (base_image.get("properties") or {}).items() if k not in NOT_INHERITED
    }
    return Image.objects.create(
        name=name,
        status=ImageStatus.QUEUED,
        visibility=Visibility.PRIVATE,
        owner=project_id,
        disk_format="qcow2",
        container_format="bare",
        min_disk=base_image.get("min_disk") or 0,
        properties={
            **inherited,
            **metadata,
            "image_type": "snapshot",
            "instance_uuid": instance_uuid,
            "base_image_ref": base_image.get("id", ""),
            "user_id": user_id,
        },
    )


def image_snapshot_failed(*, image_id: str) -> bool:
    """Delete the image of a snapshot that failed (it has no data)."""
    return bool(
        Image.objects.filter(
            pk=image_id, status__in=[ImageStatus.QUEUED, ImageStatus.SAVING]
        ).update(status=ImageStatus.DELETED, updated_at=timezone.now())
    )
