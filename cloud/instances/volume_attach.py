"""Volumes on servers, on behalf of API users (os-volume_attachments): the checks Nova
makes before an attach or a detach, the attachment reserved (or its detach begun) by
the volume app's services, recorded as an instance action, and the work handed on
(cloud.conductor.volume_attach follows it to the volume worker and the host).

The device a volume takes is decided here, as Nova's API answers with it: the one asked
for if it is a free virtio target, else the next free one after the server's own disks
(the flavor's ephemeral disk and swap) and its other volumes.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from django.db import transaction

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.identity.context import RequestContext
from cloud.instances import actions
from cloud.instances.models import Instance
from cloud.instances.selectors import instance_locked
from cloud.instances.states import VmState
from cloud.payloads import AttachVolumeRequest, DetachVolumeRequest
from cloud.rpc import HostTooOld, cast_compute, host_too_old
from cloud.volumes import services as volumes
from cloud.volumes.boot import boot_volume_drop
from cloud.volumes.choices import AttachmentStatus, VolumeStatus
from cloud.volumes.selectors import attachments_of_instances

if TYPE_CHECKING:
    from cloud.volumes.models import VolumeAttachment

log = logging.getLogger(__name__)

# Nova attaches to servers in these states (and not while a task runs on them).
ATTACHABLE = {VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED}
_DEVICE = re.compile(r"(?:/dev/)?(vd[b-z])")
_TARGETS = [f"vd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz"]


def servers_volumes(*, instance_uuids: list[str]) -> dict[str, list[VolumeAttachment]]:
    """The volume attachments of each server (attaching, attached or detaching), in the
    order they were made: one query for a page of servers."""
    found: dict[str, list[VolumeAttachment]] = {uuid: [] for uuid in instance_uuids}
    for attachment in attachments_of_instances(instance_uuids=instance_uuids):
        found.setdefault(str(attachment.instance_uuid), []).append(attachment)
    return found


def server_volumes(*, instance_uuid: str) -> list[VolumeAttachment]:
    return servers_volumes(instance_uuids=[instance_uuid])[instance_uuid]


def server_root_volume(*, instance_uuid: str) -> VolumeAttachment | None:
    """The server's root volume (boot from volume: its /dev/vda), if it has one."""
    return next(
        (a for a in server_volumes(instance_uuid=instance_uuid) if a.device == "/dev/vda"), None
    )


def instance_root_volume(instance: Instance) -> VolumeAttachment | None:
    """server_root_volume, with no query for a server booted from an image: only one
    booted from a volume has no image_ref (cloud.instances.boot_volumes)."""
    return None if instance.image_ref else server_root_volume(instance_uuid=str(instance.uuid))


def server_volume_get(*, instance_uuid: str, volume_id: str) -> VolumeAttachment:
    for attachment in server_volumes(instance_uuid=instance_uuid):
        if str(attachment.volume_id) == volume_id:
            return attachment
    raise NotFound(f"Volume {volume_id} is not attached to instance {instance_uuid}.")


def _flavor_targets(instance: Instance) -> set[str]:
    """The virtio targets of the server's own disks (cloud.workers.virt.domain_xml)."""
    flavor = instance.flavor
    count = 1 + (flavor.get("ephemeral_gb", 0) > 0) + (flavor.get("swap", 0) > 0)
    return {f"vd{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"[:count]}


def _device(instance: Instance, asked: str | None) -> str:
    """The device the volume takes (see the module's docstring): 400 for a name that is
    no virtio disk target, 409 for one in use."""
    taken = _flavor_targets(instance) | {
        (a.device or "").removeprefix("/dev/")
        for a in server_volumes(instance_uuid=str(instance.uuid))
    }
    if asked is not None:
        match = _DEVICE.fullmatch(asked)
        if match is None:
            raise BadRequest(f"The supplied device path ({asked}) is invalid.")
        if match.group(1) in taken:
            raise Conflict(f"The supplied device path ({asked}) is in use.")
        return f"/dev/{match.group(1)}"
    free = [t for t in _TARGETS if t not in taken]
    if not free:
        raise Conflict(f"Instance {instance.uuid} has no free disk device left.")
    return f"/dev/{free[0]}"


def _attachable(instance: Instance, method: str, context: RequestContext) -> None:
    if instance.deleted:
        raise NotFound(f"Instance {instance.uuid} could not be found.")
    if instance.locked and not context.is_admin:
        raise Conflict(f"Instance {instance.uuid} is locked")
    if instance.vm_state not in ATTACHABLE or instance.task_state or not instance.host:
        raise Conflict(
            f"Cannot '{method}' instance {instance.uuid} while it is in vm_state "
            f"{instance.vm_state}"
            + (f" and task_state {instance.task_state}" if instance.task_state else "")
        )
    too_old = host_too_old(instance.host, AttachVolumeRequest)
    if too_old:
        raise HostTooOld(too_old)


@transaction.atomic
def server_volume_attach(
    *,
    context: RequestContext,
    request_id: str,
    instance: Instance,
    volume_id: str,
    device: str | None,
    delete_on_termination: bool,
) -> VolumeAttachment:
    """POST os-volume_attachments: the volume reserved for the server (404 for a volume
    the caller cannot see, 409 for one in use), on the device it will take."""
    locked = instance_locked(uuid=str(instance.uuid))
    _attachable(locked, "attach_volume", context)
    target = _device(locked, device)
    attachment = volumes.reserve_attachment(
        context, volume_id, str(locked.uuid), locked.host, delete_on_termination, device=target
    )
    volumes.attachment_initialize(str(attachment.id))
    actions.action_start(
        instance_uuid=str(locked.uuid),
        action="attach_volume",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    actions.event_start(
        instance_uuid=str(locked.uuid),
        request_id=request_id,
        event=ATTACH_EVENT,
        host=locked.host,
    )
    return attachment


ATTACH_EVENT = "compute_attach_volume"
DETACH_EVENT = "compute_detach_volume"


@transaction.atomic
def server_volume_detach(
    *, context: RequestContext, request_id: str, instance: Instance, volume_id: str
) -> None:
    """DELETE os-volume_attachments/{volume_id}: 404 for a volume the server does not
    have, 400 for its root volume (Nova's rule), 409 while it is still attaching or
    already detaching."""
    locked = instance_locked(uuid=str(instance.uuid))
    _attachable(locked, "detach_volume", context)
    attachment = server_volume_get(instance_uuid=str(locked.uuid), volume_id=volume_id)
    if attachment.device == "/dev/vda":
        raise BadRequest("Cannot detach a root device volume")
    if attachment.status != AttachmentStatus.ATTACHED:
        raise Conflict(
            f"Volume {volume_id} is {attachment.status} on instance {locked.uuid}; "
            "wait until it is attached."
        )
    volumes.begin_detach(context, str(attachment.id))
    cast_compute(
        locked.host,
        "compute.detach_volume",
        DetachVolumeRequest(
            instance_uuid=str(locked.uuid),
            request_id=request_id,
            volume_id=volume_id,
            attachment_id=str(attachment.id),
        ),
    )
    actions.action_start(
        instance_uuid=str(locked.uuid),
        action="detach_volume",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    actions.event_start(
        instance_uuid=str(locked.uuid),
        request_id=request_id,
        event=DETACH_EVENT,
        host=locked.host,
    )


def server_volume_update(
    *, instance_uuid: str, volume_id: str, delete_on_termination: bool
) -> None:
    """PUT os-volume_attachments/{volume_id} with the same volume (2.85)."""
    attachment = server_volume_get(instance_uuid=instance_uuid, volume_id=volume_id)
    volumes.attachment_delete_on_termination_set(str(attachment.id), delete_on_termination)


def server_volumes_release(*, instance: Instance) -> None:
    """A deleted server's volumes (its guest is gone): each attachment ended, the volume
    available again (its export closed), and those marked delete_on_termination deleted,
    as Nova does; a volume still to be made for it goes, one being made is let go when
    made; in the caller's transaction."""
    owner = RequestContext(
        user_id=instance.user_id,
        user_name="",
        project_id=instance.project_id,
        project_name=None,
        roles=["member", "reader"],
    )
    for attachment in volumes.volumes_of_instance(str(instance.uuid)):
        if attachment.volume.status == VolumeStatus.CREATING:
            # Made for this server from an image (cloud.volumes.boot): never asked for,
            # it goes; being made, the worker's report lets it go (conductor.volume_created).
            boot_volume_drop(attachment_id=str(attachment.id))
            continue
        if attachment.status == AttachmentStatus.ATTACHING:
            volumes.attachment_failed(str(attachment.id), f"Instance {instance.uuid} was deleted.")
            continue
        gone = volumes.detach_finished(str(attachment.id))
        if gone is None or not gone.delete_on_termination:
            continue
        try:
            volumes.volume_delete(context=owner, volume_id=str(gone.volume_id))
        except (BadRequest, NotFound) as exc:
            # Still attached elsewhere (multiattach), or gone already: it stays as it is.
            log.warning("volume %s of deleted %s kept: %s", gone.volume_id, instance.uuid, exc)
