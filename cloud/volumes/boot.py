"""Volumes made from an image to be a new server's root disk: Nova's boot from volume
with source_type image and destination_type volume (`openstack server create --image IMG
--boot-from-volume SIZE`).

The compute API writes the volume (status creating, counted against the project's
volumes and gigabytes quotas in the server create's transaction) and its attachment to
the server (attaching, /dev/vda, no host yet) together: `boot_volume_reserve`; nothing is
made yet. Once the scheduler chose the server's host, the conductor asks the volume's
worker to make the data (`boot_volume_make`, once: the attachment's host says it was
asked); the worker's report moves the volume on (creating -> attaching,
services.volume_create_reported) and the conductor connects it to the host as it does a
root volume the user made. A build that ends before the volume was asked for (no valid
host, the server deleted while scheduling) takes the never-made volume with it
(`boot_volume_drop`): nothing was made, so nothing stays and its quota is free again.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from django.db import transaction

from cloud.api.errors import BadRequest
from cloud.identity.context import RequestContext
from cloud.images.selectors import image_get_any
from cloud.messaging import VOLUME_CREATE
from cloud.observability import request_id as request_ids
from cloud.payloads import VolumeCreate
from cloud.volumes import services
from cloud.volumes.choices import AttachmentStatus, VolumeStatus
from cloud.volumes.models import Volume, VolumeAttachment

log = logging.getLogger(__name__)


class Made(StrEnum):
    """Where a server's volume from an image stands when its host is chosen."""

    MAKING = "making"  # its worker is making the data: the build waits for its report
    MADE = "made"  # the data is there: connect it
    FAILED = "failed"  # it cannot be made: the build fails


@transaction.atomic
def boot_volume_reserve(
    *,
    context: RequestContext,
    image_id: str,
    size: int,
    instance_uuid: str,
    device: str,
    delete_on_termination: bool,
) -> VolumeAttachment:
    """The volume (creating, named as Nova names it: no name) and its attachment to the
    instance (attaching, no host yet); 413 over the volume quotas, 400 for an image the
    caller cannot use or larger than `size` (the volume create's own checks)."""
    volume, _ = services.volume_write(context=context, size=size, image_id=image_id)
    return VolumeAttachment.objects.create(
        volume=volume,
        instance_uuid=instance_uuid,
        host="",
        device=device,
        delete_on_termination=delete_on_termination,
    )


def _never_asked(attachment: VolumeAttachment) -> bool:
    return attachment.volume.status == VolumeStatus.CREATING and not attachment.host


@transaction.atomic
def boot_volume_make(*, attachment_id: str, host: str) -> tuple[Made, str]:
    """The server's host is chosen: the attachment goes there, and the volume's worker
    is told to make the data unless it was already (MAKING); MADE when it is made;
    FAILED with the reason when it cannot be (its create failed, its image is gone)."""
    attachment = services.attachment_locked(attachment_id)
    if attachment is None or attachment.status != AttachmentStatus.ATTACHING:
        return Made.FAILED, f"The root volume attachment {attachment_id} was given up."
    volume = attachment.volume
    ask = _never_asked(attachment)
    services.attachment_host_set(attachment_id, host)
    if volume.status == VolumeStatus.ERROR:
        return Made.FAILED, volume.fault or f"Volume {volume.id} could not be created."
    if volume.status != VolumeStatus.CREATING:
        return Made.MADE, ""
    if not ask:
        return Made.MAKING, ""
    image = image_get_any(image_id=str(volume.image_id))
    if image is None or image.status != "active":
        reason = f"Image {volume.image_id} of volume {volume.id} is no longer active."
        services.status_moved(
            Volume.objects.filter(pk=volume.pk), status=VolumeStatus.ERROR, fault=reason
        )
        return Made.FAILED, reason
    # Dated now: the reaper's deadline runs from when the worker was asked.
    services.status_moved(Volume.objects.filter(pk=volume.pk), status=VolumeStatus.CREATING)
    services.backend_cast(
        volume.backend,
        VOLUME_CREATE,
        VolumeCreate(
            volume_id=str(volume.id),
            backend=volume.backend,
            size=volume.size,
            image=services.image_volume_spec(image),
            request_id=request_ids.get(),
        ),
    )
    return Made.MAKING, ""


@transaction.atomic
def boot_volume_drop(*, attachment_id: str) -> bool:
    """A volume never asked for (its server's build ended before a host was chosen) goes
    with its attachment; False (nothing done) once its worker was asked."""
    attachment = services.attachment_locked(attachment_id)
    if attachment is None or not _never_asked(attachment):
        return False
    volume = attachment.volume
    attachment.delete()
    volume.delete()
    return True


def boot_attachment(*, volume_id: str) -> VolumeAttachment | None:
    """The attachment a volume still attaching was reserved for, if it is one."""
    return (
        VolumeAttachment.objects.select_related("volume")
        .filter(volume_id=volume_id, status=AttachmentStatus.ATTACHING)
        .first()
    )


@transaction.atomic
def boot_volume_discard(*, volume_id: str) -> None:
    """A volume made for a server that will not have it (deleted meanwhile, or its
    create failed), marked delete_on_termination: deleted, as its server's delete would
    have deleted it."""
    volume = Volume.objects.filter(pk=volume_id).first()
    if volume is None:
        return
    owner = RequestContext(
        user_id=volume.user_id,
        user_name="",
        project_id=volume.project_id,
        project_name=None,
        roles=["member", "reader"],
    )
    try:
        services.volume_delete(context=owner, volume_id=volume_id)
    except BadRequest as exc:
        log.warning("volume %s made for a server kept: %s", volume_id, exc)
