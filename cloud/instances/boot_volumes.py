"""Boot from volume: a block_device_mapping_v2 entry with destination_type `volume` and
boot_index 0 names the server's root disk, either an existing volume (source_type volume:
`openstack server create --volume VOL`) or one made from an image for the server
(source_type image, with volume_size: `--image IMG --boot-from-volume SIZE`).

An existing volume must be the caller's (400 in Nova's words otherwise), available, and
made from an image: that image's record gives the guest what it boots with (its kernel
and ramdisk parts) while the volume is its disk. A volume from an image needs an active
image the caller can use and a volume_size that holds it (its min_disk and its size: 400
otherwise), within the project's volumes and gigabytes quotas (403, as Nova answers over
quota). Either way the instance's image_ref is empty (the API shows `image: ""`, as Nova
does), the flavor's root disk is neither checked against the image nor claimed in
placement, and each created server reserves its volume as its `/dev/vda` attachment (no
host yet); a volume from an image is written then too, in the create's transaction, and
made once the conductor chose the host (cloud.volumes.boot). The conductor connects the
volume on the host it builds on (cloud.conductor.volume_attach).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from cloud.api.errors import BadRequest
from cloud.api.parsing import InvalidValue, parse_int, parse_uuid
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.images.choices import ImageStatus
from cloud.images.selectors import image_get
from cloud.volumes import services as volumes
from cloud.volumes.boot import boot_volume_reserve
from cloud.volumes.choices import VolumeStatus
from cloud.volumes.selectors import volume_get
from cloud.volumes.services import image_volume_size as volume_image_size

if TYPE_CHECKING:
    from cloud.images.models import Image
    from cloud.volumes.models import VolumeAttachment

ROOT_DEVICE = "/dev/vda"
GIB = 1 << 30


@dataclass(frozen=True)
class RootVolume:
    """The root volume asked for: an existing one (volume_id), or one to make from an
    image (image_id, volume_size GiB)."""

    volume_id: str | None = None
    delete_on_termination: bool = False
    image_id: str | None = None
    volume_size: int = 0


def is_volume_bdm(bdm: dict) -> bool:
    return bdm.get("destination_type") == "volume"


def _bdm_uuid(bdm: dict) -> str:
    try:
        return parse_uuid(bdm.get("uuid"), name="block_device_mapping_v2.uuid")
    except InvalidValue as exc:
        raise BadRequest(str(exc)) from None


def _bdm_size(bdm: dict) -> int:
    """The volume_size asked for, in GiB (a 400 unless a whole number from 1)."""
    return parse_int(bdm["volume_size"], name="block_device_mapping_v2.volume_size", minimum=1)


def root_volume_requested(bdms: list[dict]) -> RootVolume | None:
    """The root volume the mappings name, or None (a local root disk from an image)."""
    found = None
    for bdm in bdms:
        if not is_volume_bdm(bdm):
            continue
        source = bdm.get("source_type")
        if source not in ("volume", "image"):
            raise BadRequest(
                "Block Device Mapping is Invalid: only an existing volume or one made from "
                "an image can be a server's volume here (source_type volume or image); "
                f"source_type {source} is not supported."
            )
        if str(bdm.get("boot_index")) != "0":
            raise BadRequest(
                "Block Device Mapping is Invalid: only the root volume (boot_index 0) "
                "can be given at boot; attach others once the server runs."
            )
        if found is not None:
            raise BadRequest("Block Device Mapping is Invalid: more than one root volume.")
        doomed = bool(bdm.get("delete_on_termination", False))
        if source == "volume":
            found = RootVolume(volume_id=_bdm_uuid(bdm), delete_on_termination=doomed)
            continue
        if not bdm.get("volume_size"):
            raise BadRequest(
                "Block Device Mapping is Invalid: Images with destination_type 'volume' "
                "need to have a non-zero size specified"
            )
        found = RootVolume(
            image_id=_bdm_uuid(bdm),
            volume_size=_bdm_size(bdm),
            delete_on_termination=doomed,
        )
    return found


def _image_volume_source(*, context: RequestContext, root: RootVolume, image_ref: str) -> Image:
    """The image a new root volume is made from: active, one the caller may use, and no
    larger than the volume (Nova's checks, in its words: 400)."""
    if image_ref and image_ref != root.image_id:
        raise BadRequest("block_device_mapping_v2 names a different image than imageRef.")
    image = image_get(image_id=str(root.image_id), context=context)
    if image is None:
        raise BadRequest(f"Block Device Mapping is Invalid: failed to get image {root.image_id}.")
    if image.status != ImageStatus.ACTIVE:
        raise BadRequest(f"Image {image.id} is not active (status {image.status}).")
    if root.volume_size > settings.VOLUME_MAX_SIZE_GB:
        raise BadRequest(
            f"Block Device Mapping is Invalid: volume_size {root.volume_size} GB is larger "
            f"than the largest volume this cloud makes ({settings.VOLUME_MAX_SIZE_GB} GB)."
        )
    volume_bytes = root.volume_size * GIB
    if image.min_disk and image.min_disk * GIB > volume_bytes:
        raise BadRequest(
            "Volume is smaller than the minimum size specified in image metadata. Volume "
            f"size is {volume_bytes} bytes, minimum size is {image.min_disk * GIB} bytes."
        )
    if volume_image_size(image) > root.volume_size:
        image_bytes = max(image.virtual_size or 0, image.size or 0)
        raise BadRequest(
            f"Volume is smaller than the image. Volume size is {volume_bytes} bytes, "
            f"image is {image_bytes} bytes."
        )
    return image


def root_volume_image(*, context: RequestContext, root: RootVolume, image_ref: str = "") -> Image:
    """The image the root volume is (or will be) made from, what the guest boots with;
    400 for a volume the caller cannot see, that is not available, or holds no image,
    and for an image no volume of the size asked can be made from."""
    if root.image_id is not None:
        return _image_volume_source(context=context, root=root, image_ref=image_ref)
    volume = volume_get(context=context, volume_id=str(root.volume_id))
    if volume is None:
        raise BadRequest(f"Block Device Mapping is Invalid: failed to get volume {root.volume_id}.")
    if volume.status != VolumeStatus.AVAILABLE:
        raise BadRequest(
            f"Block Device Mapping is Invalid: volume {root.volume_id} status must be "
            f"available (it is {volume.status})."
        )
    image = image_get(image_id=str(volume.image_id), context=context) if volume.image_id else None
    if image is None:
        raise BadRequest(
            f"Block Device Mapping is Invalid: volume {root.volume_id} was not made from an "
            "image this cloud still has, so it cannot be booted from here."
        )
    return image


def root_volumes_quota_check(*, context: RequestContext, root: RootVolume, count: int) -> None:
    """403 (Nova's words) unless `count` volumes from an image fit the project's volumes
    and gigabytes quotas; call in the create's transaction (it takes the project's lock,
    which each volume's own write then checks under again)."""
    if root.image_id is None:
        return
    quotas.quota_enforce(
        project_id=context.project_id,
        user_id=context.user_id,
        deltas={"volumes": count, "gigabytes": count * root.volume_size},
    )


def root_volume_reserve(
    *, context: RequestContext, root: RootVolume, instance_uuid: str
) -> VolumeAttachment:
    """The volume reserved as the new server's root disk (attaching, no host yet); a
    volume from an image is written (creating) with it."""
    if root.image_id is not None:
        return boot_volume_reserve(
            context=context,
            image_id=root.image_id,
            size=root.volume_size,
            instance_uuid=instance_uuid,
            device=ROOT_DEVICE,
            delete_on_termination=root.delete_on_termination,
        )
    return volumes.reserve_attachment(
        context,
        str(root.volume_id),
        instance_uuid,
        "",
        root.delete_on_termination,
        device=ROOT_DEVICE,
    )
