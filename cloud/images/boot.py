"""What a compute host needs to fetch an image's data: the download URL, a short-lived
transfer token for that image only, and the hashes and sizes it must match.

Built when a message for the host is built (never stored), so the token is fresh;
an image with no data to fetch (no multihash recorded, or not active) gives
nothing, and the guest gets an empty root disk as before.

A resize to another host moves the guest's root disk through the image service
too: a temporary, hidden image per migration that the source uploads to and the
destination fetches from, deleted when the move is over.
"""

import uuid as uuidlib

from django.db import transaction
from django.utils import timezone

from cloud.api.parsing import uuid_or_none
from cloud.images.choices import ImageStatus, Visibility
from cloud.images.models import Image
from cloud.images.stores import image_store
from cloud.images.transfer import image_transfer_token, image_transfer_url

# Long enough for a build to wait in a busy host's queue and then fetch the image.
DOWNLOAD_TTL = 3600
# Long enough to copy and upload a large disk.
UPLOAD_TTL = 6 * 3600


def image_download_fields(*, image_id: str) -> dict:
    """The ImageSpec fields (payload 1.7) a host fetches and verifies the image with."""
    pk = uuid_or_none(str(image_id))
    if pk is None:
        return {}
    image = Image.objects.filter(pk=pk, status=ImageStatus.ACTIVE).first()
    if image is None or not image.os_hash_value or image.os_hash_algo != "sha512":
        return {}
    return {
        "disk_format": image.disk_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "download_url": image_transfer_url(image_id=str(image.id)),
        "transfer_token": image_transfer_token(
            image_id=str(image.id), action="download", ttl=DOWNLOAD_TTL
        ),
    }


def image_upload_fields(*, image_id: str) -> dict[str, str]:
    """Where and with what token a host uploads the data of image `image_id`."""
    return {
        "url": image_transfer_url(image_id=str(image_id)),
        "token": image_transfer_token(image_id=str(image_id), action="upload", ttl=UPLOAD_TTL),
    }


def _disk_move_image_id(migration_uuid: str) -> str:
    """The temporary image of one move: the same for a redelivered step."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"stratus:disk-move:{migration_uuid}"))


def image_disk_move_create(*, migration_uuid: str, instance_uuid: str) -> str:
    """The queued, hidden image a resize's source host uploads the guest's root disk to
    (owned by no project: no user lists it, no quota counts it); its id."""
    image, _ = Image.objects.get_or_create(
        id=_disk_move_image_id(migration_uuid),
        defaults={
            "name": f"disk-move-{migration_uuid}",
            "status": ImageStatus.QUEUED,
            "visibility": Visibility.PRIVATE,
            "owner": "",
            "os_hidden": True,
            "disk_format": "qcow2",
            "container_format": "bare",
            "properties": {
                "image_type": "disk_move",
                "instance_uuid": instance_uuid,
                "migration_uuid": migration_uuid,
            },
        },
    )
    return str(image.id)


def image_disk_move_spec(*, migration_uuid: str) -> dict:
    """The ImageSpec (a dict) the destination fetches the moved disk with; {} when the
    source has not uploaded it."""
    image_id = _disk_move_image_id(migration_uuid)
    fields = image_download_fields(image_id=image_id)
    if not fields:
        return {}
    return {"id": image_id, "name": f"disk-move-{migration_uuid}", **fields}


def image_disk_move_delete(*, migration_uuid: str) -> None:
    """The move is over (the destination has the disk, or the resize ended): the
    temporary image and its data go."""
    image = Image.objects.filter(pk=_disk_move_image_id(migration_uuid)).first()
    if image is None or image.status == ImageStatus.DELETED:
        return
    locations = [str(location.get("url", "")) for location in image.locations]
    Image.objects.filter(pk=image.pk).update(
        status=ImageStatus.DELETED, locations=[], updated_at=timezone.now()
    )
    transaction.on_commit(lambda: _data_delete(locations))


def _data_delete(locations: list[str]) -> None:
    store = image_store()
    for location in locations:
        if store.owns(location):
            store.delete(location)
