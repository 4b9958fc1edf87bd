"""Writes of the block-storage app: volumes, snapshots and the attachment state machine.

Every status change is a conditional update (`filter(status=...).update(...)`): zero
rows updated means someone else changed the volume first, and the caller gets a 409
(or, for a report from a worker, nothing happens: reports are idempotent). Changes that
depend on a volume's other attachments (a multiattach volume's status after one of
them goes) lock the volume's row first, so two of them cannot both read the old set.

The attachment state machine (the compute side, cloud/conductor/volume_attach.py and
the compute API, drives it):

    reserve_attachment     volume available -> attaching (a multiattach volume also
                           from in-use or attaching, staying so); attachment attaching
    attachment_connected   attachment attaching -> attached; volume -> in-use
    attachment_failed      attachment deleted; volume -> what its other attachments
                           make it (none: available), with the reason as its fault
    begin_detach           attachment attached -> detaching; volume in-use ->
                           detaching unless another attachment stays attached
    detach_finished        attachment deleted; volume -> available (or in-use)
    detach_failed          attachment detaching -> attached; volume -> in-use

Work on the data is the volume worker's (queue volume.<backend>): casts go out after
the transaction commits (cloud.rpc), and the worker's reports come back through the
conductor (cloud/conductor/volumes.py) to the `*_reported` functions below.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from cloud import rpc
from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.identity.context import RequestContext
from cloud.images import boot as image_boot
from cloud.images import selectors as image_selectors
from cloud.messaging import (
    VOLUME_CREATE,
    VOLUME_DELETE,
    VOLUME_EXTEND,
    VOLUME_INITIALIZE_CONNECTION,
    VOLUME_SNAPSHOT_CREATE,
    VOLUME_SNAPSHOT_DELETE,
    VOLUME_TERMINATE_CONNECTION,
)
from cloud.observability import request_id as request_ids
from cloud.payloads import (
    ConnectionRequest,
    ImageSpec,
    VolumeCreate,
    VolumeExtend,
    VolumeRef,
    VolumeResult,
    VolumeSnapshotRequest,
)
from cloud.volumes import quotas, types
from cloud.volumes.choices import RESETTABLE, AttachmentStatus, SnapshotStatus, VolumeStatus
from cloud.volumes.models import Volume, VolumeAttachment, VolumeBackend, VolumeSnapshot

if TYPE_CHECKING:
    from cloud.images.models import Image

log = logging.getLogger(__name__)

GIB = 1 << 30
# A volume may be deleted in these (Cinder's list, for what Stratus has).
DELETABLE = (
    VolumeStatus.AVAILABLE,
    VolumeStatus.ERROR,
    VolumeStatus.ERROR_EXTENDING,
    VolumeStatus.ERROR_DELETING,
)
# The statuses the attachments decide (an admin's reset to another status stays).
ATTACH_FAMILY = (
    VolumeStatus.AVAILABLE,
    VolumeStatus.RESERVED,
    VolumeStatus.ATTACHING,
    VolumeStatus.IN_USE,
    VolumeStatus.DETACHING,
)


def _not_found(volume_id: object) -> NotFound:
    return NotFound(f"Volume {volume_id} could not be found.")


def _visible(context: RequestContext, volume_id: object):
    """The volume if the caller may see it (its project's, or any for an admin)."""
    from cloud.volumes.selectors import volume_get

    volume = volume_get(context=context, volume_id=str(volume_id))
    if volume is None:
        raise _not_found(volume_id)
    return volume


def _version(backend: str) -> str:
    found = VolumeBackend.objects.filter(name=backend).values_list("payload_version", flat=True)
    return next(iter(found), "")


def backend_cast(backend: str, task: str, payload: Any) -> None:
    rpc.cast_volume(backend, task, payload, version=_version(backend))


def status_moved(qs, **changes: Any) -> int:
    """A conditional update that also dates the new status (the reaper's clock)."""
    return qs.update(status_changed_at=timezone.now(), updated_at=timezone.now(), **changes)


# -- volumes ---------------------------------------------------------------------------


def _size_parse(value: object, *, name: str = "size") -> int:
    from cloud.api.parsing import parse_int

    if value is None:
        raise BadRequest(f"Invalid input received: {name} is required.")
    size = parse_int(value, name=name, minimum=1, maximum=settings.VOLUME_MAX_SIZE_GB)
    return size


def image_volume_size(image: Image) -> int:
    """The least size in GiB of a volume made from the image: its virtual size (else its
    data size), and its min_disk."""
    return max(math.ceil((image.virtual_size or image.size or 0) / GIB), image.min_disk or 0, 1)


def image_volume_spec(image: Image) -> dict:
    """The ImageSpec dict a volume worker fetches the image with (an image with no data,
    registered without a file, gives an empty volume, as it gives a guest an empty root
    disk)."""
    fields = image_boot.image_download_fields(image_id=str(image.id))
    return ImageSpec(
        id=str(image.id), name=image.name, **{"disk_format": image.disk_format, **fields}
    ).to_dict()


def _image_source(context: RequestContext, image_id: str, size: int | None) -> tuple[dict, int]:
    """The image a volume is made from (visible, active) and the size it
    needs: at least its virtual size (else its data size) and its min_disk, in GiB."""
    image = image_selectors.image_get(image_id=image_id, context=context)
    if image is None:
        raise BadRequest(f"Invalid input received: Image {image_id} could not be found.")
    if image.status != "active":
        raise BadRequest(f"Invalid image: Image {image.id} is not active.")
    needed = image_volume_size(image)
    if size is None:
        size = needed
    if size < needed:
        raise BadRequest(
            f"Invalid input received: Size of specified image {needed}GB is larger than "
            f"volume size {size}GB."
        )
    spec = image_volume_spec(image)
    metadata = {
        "image_id": str(image.id),
        "image_name": image.name,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": str(image.min_disk or 0),
        "min_ram": str(image.min_ram or 0),
        "size": str(image.size or 0),
        **{str(k): str(v) for k, v in (image.properties or {}).items()},
    }
    return {"spec": spec, "metadata": metadata}, size


def _snapshot_source(context: RequestContext, snapshot_id: str, size: int | None):
    from cloud.volumes.selectors import snapshot_get

    snapshot = snapshot_get(context=context, snapshot_id=snapshot_id)
    if snapshot is None:
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    if snapshot.status != SnapshotStatus.AVAILABLE:
        raise BadRequest(
            f"Invalid snapshot: Originating snapshot status must be one of 'available' "
            f"values (it is {snapshot.status})."
        )
    if size is None:
        size = snapshot.size
    if size < snapshot.size:
        raise BadRequest(
            f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
            f"snapshot size {snapshot.size}GB. They must be >= original snapshot size."
        )
    return snapshot, size


def volume_write(
    *,
    context: RequestContext,
    size: object,
    name: str = "",
    description: str = "",
    volume_type: str | None = None,
    image_id: str | None = None,
    snapshot_id: str | None = None,
    metadata: dict[str, str] | None = None,
    availability_zone: str | None = None,
    multiattach: bool = False,
) -> tuple[Volume, VolumeCreate]:
    """The checks of a volume create, its row (status creating, counted against the
    quota) and what its backend's worker must be told to make its data."""
    if availability_zone and availability_zone != settings.DEFAULT_AVAILABILITY_ZONE:
        raise BadRequest(
            f"Invalid input received: Availability zone '{availability_zone}' is invalid."
        )
    wanted = None if size is None and (image_id or snapshot_id) else _size_parse(size)
    image = snapshot = None
    if image_id and snapshot_id:
        raise BadRequest(
            "Invalid input received: Only one of imageRef and snapshot_id may be given."
        )
    if image_id:
        image, wanted = _image_source(context, image_id, wanted)
    if snapshot_id:
        snapshot, wanted = _snapshot_source(context, snapshot_id, wanted)
    if snapshot is not None and volume_type is None:
        kind = snapshot.volume.volume_type
    else:
        kind = types.volume_type_resolve(context=context, name_or_id=volume_type)
    specs = kind.extra_specs
    backend = snapshot.volume.backend if snapshot is not None else types.type_backend(specs)
    quotas.quota_take(
        project_id=context.project_id,
        user_id=context.user_id,
        deltas={"volumes": 1, "gigabytes": wanted},
    )
    volume = Volume.objects.create(
        project_id=context.project_id,
        user_id=context.user_id,
        name=name,
        description=description,
        size=wanted,
        volume_type=kind,
        availability_zone=settings.DEFAULT_AVAILABILITY_ZONE,
        multiattach=multiattach or types.type_multiattach(specs),
        bootable=image is not None or bool(snapshot and snapshot.volume.bootable),
        image_id=image["spec"]["id"] if image else None,
        snapshot_id=snapshot.id if snapshot else None,
        image_metadata=image["metadata"]
        if image
        else (snapshot.volume.image_metadata if snapshot else {}),
        metadata=metadata or {},
        backend=backend,
    )
    make = VolumeCreate(
        volume_id=str(volume.id),
        backend=backend,
        size=wanted,
        image=image["spec"] if image else None,
        snapshot_id=str(snapshot.id) if snapshot else "",
        snapshot_location=snapshot.provider_location if snapshot else "",
        request_id=request_ids.get(),
    )
    return volume, make


@transaction.atomic
def volume_create(*, context: RequestContext, size: object, **fields: Any) -> Volume:
    """A new volume (status creating), counted against the quota, and the volume
    worker of its backend told to make its data once this commits. The fields are
    _volume_write's: name, description, volume_type, image_id, snapshot_id, metadata,
    availability_zone, multiattach."""
    volume, make = volume_write(context=context, size=size, **fields)
    backend_cast(volume.backend, VOLUME_CREATE, make)
    return volume


@transaction.atomic
def volume_update(
    *,
    context: RequestContext,
    volume_id: str,
    name: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Volume:
    volume = _visible(context, volume_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if metadata is not None:
        changes["metadata"] = metadata
    if changes:
        Volume.objects.filter(pk=volume.pk).update(updated_at=timezone.now(), **changes)
        volume.refresh_from_db()
    return volume


@transaction.atomic
def volume_metadata_merge(
    *, context: RequestContext, volume_id: str, metadata: dict[str, str], replace: bool = False
) -> dict[str, str]:
    """Cinder's POST (merge) and PUT (replace) of /volumes/{id}/metadata."""
    volume = Volume.objects.select_for_update().get(pk=_visible(context, volume_id).pk)
    volume.metadata = dict(metadata) if replace else {**volume.metadata, **metadata}
    volume.save(update_fields=["metadata", "updated_at"])
    return volume.metadata


@transaction.atomic
def volume_metadata_delete(*, context: RequestContext, volume_id: str, key: str) -> None:
    volume = Volume.objects.select_for_update().get(pk=_visible(context, volume_id).pk)
    if key not in volume.metadata:
        raise NotFound(f"Metadata key: {key} could not be found for volume {volume.id}.")
    del volume.metadata[key]
    volume.save(update_fields=["metadata", "updated_at"])


@transaction.atomic
def volume_delete(*, context: RequestContext, volume_id: str) -> None:
    """Status deleting, and the worker told to remove the data; the row goes when it
    reports. 400 (Cinder's words) unless the volume is idle, unattached, without snapshots."""
    volume = _visible(context, volume_id)
    refused = BadRequest(
        "Invalid volume: Volume status must be available or error or error_restoring or "
        "error_extending or error_managing and must not be migrating, attached, belong "
        f"to a group, have snapshots or be disassociated from snapshots after volume "
        f"transfer (it is {volume.status})."
    )
    if volume.attachments.exists() or volume.snapshots.exists():
        raise refused
    moved = status_moved(
        Volume.objects.filter(pk=volume.pk, status__in=DELETABLE), status=VolumeStatus.DELETING
    )
    if not moved:
        raise refused
    backend_cast(
        volume.backend,
        VOLUME_DELETE,
        VolumeRef(
            volume_id=str(volume.id),
            backend=volume.backend,
            size=volume.size,
            provider_location=volume.provider_location,
            request_id=request_ids.get(),
        ),
    )


@transaction.atomic
def volume_extend(*, context: RequestContext, volume_id: str, new_size: object) -> Volume:
    """os-extend: available -> extending, the new size counted against the quota now."""
    volume = _visible(context, volume_id)
    size = _size_parse(new_size, name="new_size")
    if volume.status != VolumeStatus.AVAILABLE:
        raise BadRequest(
            f"Invalid volume: Volume {volume.id} status must be 'available' to extend, "
            f"but current status is: {volume.status}."
        )
    if size <= volume.size:
        raise BadRequest(
            f"Invalid input received: New size for extend must be greater than current "
            f"size. (current: {volume.size}, extended: {size})."
        )
    quotas.quota_take(
        project_id=volume.project_id,
        user_id=context.user_id,
        deltas={"gigabytes": size - volume.size},
    )
    moved = status_moved(
        Volume.objects.filter(pk=volume.pk, status=VolumeStatus.AVAILABLE, size=volume.size),
        status=VolumeStatus.EXTENDING,
        extend_to=size,
    )
    if not moved:
        raise Conflict(f"Volume {volume.id} changed meanwhile; retry.")
    backend_cast(
        volume.backend,
        VOLUME_EXTEND,
        VolumeExtend(
            volume_id=str(volume.id),
            backend=volume.backend,
            provider_location=volume.provider_location,
            new_size=size,
            request_id=request_ids.get(),
        ),
    )
    volume.refresh_from_db()
    return volume


@transaction.atomic
def volume_reset_status(
    *, context: RequestContext, volume_id: str, status: object, attach_status: object = None
) -> None:
    """os-reset_status (admin): the volume's status as said, nothing else touched."""
    volume = _visible(context, volume_id)
    if status is None and attach_status is None:
        raise BadRequest("Invalid input received: Must specify 'status' or 'attach_status'.")
    if status is not None:
        if not isinstance(status, str) or status.lower() not in RESETTABLE:
            raise BadRequest(f"Invalid input received: Invalid volume status: {status}.")
        status_moved(Volume.objects.filter(pk=volume.pk), status=status.lower(), extend_to=None)
    if attach_status is not None and attach_status not in ("attached", "detached"):
        raise BadRequest(f"Invalid input received: Invalid attach_status: {attach_status}.")


@transaction.atomic
def volume_set_bootable(*, context: RequestContext, volume_id: str, bootable: bool) -> None:
    volume = _visible(context, volume_id)
    Volume.objects.filter(pk=volume.pk).update(bootable=bootable, updated_at=timezone.now())


# -- snapshots ---------------------------------------------------------------------------


@transaction.atomic
def snapshot_create(
    *,
    context: RequestContext,
    volume_id: str,
    name: str = "",
    description: str = "",
    force: bool = False,
    metadata: dict[str, str] | None = None,
) -> VolumeSnapshot:
    """A snapshot (status creating) of an available volume (an in-use one with force),
    counted against the snapshots and gigabytes quotas; the worker copies the data."""
    volume = _visible(context, volume_id)
    allowed = [VolumeStatus.AVAILABLE] + ([VolumeStatus.IN_USE] if force else [])
    if volume.status not in allowed:
        raise BadRequest(
            f"Invalid volume: Volume {volume.id} status must be available, but current "
            f"status is: {volume.status}."
        )
    quotas.quota_take(
        project_id=volume.project_id,
        user_id=context.user_id,
        deltas={"snapshots": 1, "gigabytes": volume.size},
    )
    snapshot = VolumeSnapshot.objects.create(
        volume=volume,
        project_id=volume.project_id,
        user_id=context.user_id,
        name=name,
        description=description,
        size=volume.size,
        metadata=metadata or {},
    )
    backend_cast(
        volume.backend,
        VOLUME_SNAPSHOT_CREATE,
        VolumeSnapshotRequest(
            snapshot_id=str(snapshot.id),
            volume_id=str(volume.id),
            backend=volume.backend,
            volume_location=volume.provider_location,
            request_id=request_ids.get(),
        ),
    )
    return snapshot


@transaction.atomic
def snapshot_update(
    *, context: RequestContext, snapshot_id: str, name: str | None, description: str | None
) -> VolumeSnapshot:
    from cloud.volumes.selectors import snapshot_get

    snapshot = snapshot_get(context=context, snapshot_id=snapshot_id)
    if snapshot is None:
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    if name is not None:
        snapshot.name = name
    if description is not None:
        snapshot.description = description
    snapshot.save(update_fields=["name", "description", "updated_at"])
    return snapshot


@transaction.atomic
def snapshot_delete(*, context: RequestContext, snapshot_id: str) -> None:
    from cloud.volumes.selectors import snapshot_get

    snapshot = snapshot_get(context=context, snapshot_id=snapshot_id)
    if snapshot is None:
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    moved = status_moved(
        VolumeSnapshot.objects.filter(
            pk=snapshot.pk,
            status__in=[
                SnapshotStatus.AVAILABLE,
                SnapshotStatus.ERROR,
                SnapshotStatus.ERROR_DELETING,
            ],
        ),
        status=SnapshotStatus.DELETING,
    )
    if not moved:
        raise BadRequest(
            "Invalid snapshot: Volume Snapshot status must be available or error "
            f"(it is {snapshot.status})."
        )
    volume = snapshot.volume
    backend_cast(
        volume.backend,
        VOLUME_SNAPSHOT_DELETE,
        VolumeSnapshotRequest(
            snapshot_id=str(snapshot.id),
            volume_id=str(volume.id),
            backend=volume.backend,
            volume_location=volume.provider_location,
            snapshot_location=snapshot.provider_location,
            request_id=request_ids.get(),
        ),
    )


@transaction.atomic
def snapshot_reset_status(*, context: RequestContext, snapshot_id: str, status: object) -> None:
    from cloud.volumes.selectors import snapshot_get

    snapshot = snapshot_get(context=context, snapshot_id=snapshot_id)
    if snapshot is None:
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    if not isinstance(status, str) or status not in SnapshotStatus.values:
        raise BadRequest(f"Invalid input received: Invalid snapshot status: {status}.")
    status_moved(VolumeSnapshot.objects.filter(pk=snapshot.pk), status=status)


# -- what the volume workers report (through the conductor) ------------------------------


@transaction.atomic
def volume_create_reported(*, result: VolumeResult) -> bool:
    """creating -> available with where its data is (attaching when it was made for a
    server's boot; error: -> error with the fault). A report for a volume no longer
    creating (the reaper ended it, or a redelivery) only records where its data is, so
    that deleting it removes the data. True when this report moved the volume on."""
    rows = Volume.objects.filter(pk=result.volume_id)
    if result.error:
        return bool(
            status_moved(
                rows.filter(status=VolumeStatus.CREATING),
                status=VolumeStatus.ERROR,
                fault=result.error,
            )
        )
    done = status_moved(
        rows.filter(status=VolumeStatus.CREATING),
        status=VolumeStatus.AVAILABLE,
        provider_location=result.provider_location,
        fault="",
    )
    if not done:
        rows.update(provider_location=result.provider_location)
    elif VolumeAttachment.objects.filter(volume_id=result.volume_id).exists():
        # Made for a server's boot (cloud.volumes.boot): attaching to it from now.
        _settle(result.volume_id)
    return bool(done)


@transaction.atomic
def volume_delete_reported(*, result: VolumeResult) -> None:
    """The data is gone: the row goes (error: -> error_deleting with the fault)."""
    rows = Volume.objects.filter(pk=result.volume_id, status=VolumeStatus.DELETING)
    if result.error:
        status_moved(rows, status=VolumeStatus.ERROR_DELETING, fault=result.error)
        return
    rows.delete()


@transaction.atomic
def volume_extend_reported(*, result: VolumeResult) -> None:
    """extending -> available at the new size (error: -> error_extending, size kept)."""
    rows = Volume.objects.filter(pk=result.volume_id, status=VolumeStatus.EXTENDING)
    if result.error:
        status_moved(rows, status=VolumeStatus.ERROR_EXTENDING, extend_to=None, fault=result.error)
        return
    status_moved(
        rows.filter(extend_to__isnull=False),
        status=VolumeStatus.AVAILABLE,
        size=F("extend_to"),
        extend_to=None,
        fault="",
    )


@transaction.atomic
def snapshot_create_reported(*, result: VolumeResult) -> None:
    rows = VolumeSnapshot.objects.filter(pk=result.snapshot_id, status=SnapshotStatus.CREATING)
    if result.error:
        status_moved(rows, status=SnapshotStatus.ERROR, fault=result.error)
        return
    done = status_moved(
        rows, status=SnapshotStatus.AVAILABLE, provider_location=result.provider_location
    )
    if not done:
        VolumeSnapshot.objects.filter(pk=result.snapshot_id).update(
            provider_location=result.provider_location
        )


@transaction.atomic
def snapshot_delete_reported(*, result: VolumeResult) -> None:
    rows = VolumeSnapshot.objects.filter(pk=result.snapshot_id, status=SnapshotStatus.DELETING)
    if result.error:
        status_moved(rows, status=SnapshotStatus.ERROR_DELETING, fault=result.error)
        return
    rows.delete()


@transaction.atomic
def volume_step_expire(*, volume_id: str, status: str, to: str, fault: str) -> int:
    """The reaper ends a volume step its worker never finished (1: ended, 0: it moved on)."""
    log.warning("volume %s: %s", volume_id, fault)
    return status_moved(
        Volume.objects.filter(pk=volume_id, status=status), status=to, extend_to=None, fault=fault
    )


@transaction.atomic
def snapshot_step_expire(*, snapshot_id: str, status: str, to: str, fault: str) -> int:
    log.warning("snapshot %s: %s", snapshot_id, fault)
    return status_moved(
        VolumeSnapshot.objects.filter(pk=snapshot_id, status=status), status=to, fault=fault
    )


# -- attachments -------------------------------------------------------------------------


def _settle(volume_id: object, *, fault: str | None = None) -> None:
    """The volume's status from its attachments (call with its row locked): any attached
    -> in-use, else any attaching -> attaching, any detaching -> detaching, none ->
    available. A status outside the attach family (an admin's reset) stays."""
    statuses = set(
        VolumeAttachment.objects.filter(volume_id=volume_id).values_list("status", flat=True)
    )
    if AttachmentStatus.ATTACHED in statuses:
        status = VolumeStatus.IN_USE
    elif AttachmentStatus.ATTACHING in statuses:
        status = VolumeStatus.ATTACHING
    elif AttachmentStatus.DETACHING in statuses:
        status = VolumeStatus.DETACHING
    else:
        status = VolumeStatus.AVAILABLE
    changes: dict[str, Any] = {"status": status}
    if fault is not None:
        changes["fault"] = fault
    rows = Volume.objects.filter(pk=volume_id, status__in=ATTACH_FAMILY)
    if not status_moved(rows.exclude(status=status), **changes) and fault is not None:
        rows.update(fault=fault)


def attachment_locked(attachment_id: object) -> VolumeAttachment | None:
    """The attachment with its volume's row locked (lock order: volume, then attachment)."""
    found = VolumeAttachment.objects.filter(pk=attachment_id).values_list("volume_id", flat=True)
    volume_id = next(iter(found), None)
    if volume_id is None:
        return None
    list(Volume.objects.select_for_update().filter(pk=volume_id).values_list("id"))
    return VolumeAttachment.objects.select_related("volume").filter(pk=attachment_id).first()


@transaction.atomic
def reserve_attachment(
    context: RequestContext,
    volume_id: str,
    instance_uuid: str,
    host: str,
    delete_on_termination: bool = False,
    *,
    device: str = "",
) -> VolumeAttachment:
    """Reserve the volume for the instance: a new attachment (attaching), on the guest
    device the compute API chose. A volume that is not multiattach must be available
    (409 otherwise: already attached, or busy); a multiattach one may also be in-use or
    attaching. One attachment per instance."""
    volume = _visible(context, volume_id)
    if volume.multiattach:
        rows = Volume.objects.filter(
            pk=volume.pk,
            multiattach=True,
            status__in=[VolumeStatus.AVAILABLE, VolumeStatus.IN_USE, VolumeStatus.ATTACHING],
        )
        moved = status_moved(
            rows,
            status=Case(
                When(status=VolumeStatus.AVAILABLE, then=Value(VolumeStatus.ATTACHING)),
                default=F("status"),
            ),
        )
    else:
        moved = status_moved(
            Volume.objects.filter(pk=volume.pk, multiattach=False, status=VolumeStatus.AVAILABLE),
            status=VolumeStatus.ATTACHING,
        )
    if not moved:
        volume.refresh_from_db()
        if volume.status in (VolumeStatus.IN_USE, VolumeStatus.ATTACHING):
            raise Conflict(
                f"Invalid volume: Volume {volume.id} status must be available to attach "
                f"(it is {volume.status}) and it is not multiattach."
            )
        raise Conflict(
            f"Invalid volume: Volume {volume.id} status must be available or in-use "
            f"to attach, but its status is {volume.status}."
        )
    try:
        with transaction.atomic():
            attachment = VolumeAttachment.objects.create(
                volume=volume,
                instance_uuid=instance_uuid,
                host=host,
                device=device,
                delete_on_termination=bool(delete_on_termination),
            )
    except IntegrityError:
        raise Conflict(
            f"Volume {volume.id} is already attached to the instance {instance_uuid}."
        ) from None
    attachment.volume.refresh_from_db()
    return attachment


@transaction.atomic
def attachment_initialize(attachment_id: str) -> None:
    """Ask the volume's worker how the attachment's host reaches the data; it answers
    conductor.volume_connection_ready (cloud/conductor/volume_attach.py)."""
    attachment = VolumeAttachment.objects.select_related("volume").filter(pk=attachment_id).first()
    if attachment is None:
        return
    backend_cast(
        attachment.volume.backend, VOLUME_INITIALIZE_CONNECTION, _connection_request(attachment)
    )


def _connection_request(attachment: VolumeAttachment) -> ConnectionRequest:
    volume = attachment.volume
    return ConnectionRequest(
        attachment_id=str(attachment.id),
        volume_id=str(volume.id),
        backend=volume.backend,
        host=attachment.host,
        provider_location=volume.provider_location,
        instance_uuid=str(attachment.instance_uuid),
        request_id=request_ids.get(),
    )


@transaction.atomic
def attachment_record_connection(attachment_id: str, connection_info: dict) -> bool:
    """Keep the connection the volume worker answered on an attachment still attaching;
    False when it is gone or no longer attaching (a late answer)."""
    return bool(
        VolumeAttachment.objects.filter(pk=attachment_id, status=AttachmentStatus.ATTACHING).update(
            connection_info=connection_info, updated_at=timezone.now()
        )
    )


@transaction.atomic
def attachment_connected(
    attachment_id: str, device: str, connection_info: dict | None = None
) -> VolumeAttachment | None:
    """The compute connected the volume to the guest as `device`: attachment attached,
    volume in-use. None when the attachment is no longer attaching (the reaper or a
    failure ended it): the caller must undo the connection on the host."""
    attachment = attachment_locked(attachment_id)
    if attachment is None:
        return None
    changes: dict[str, Any] = {"status": AttachmentStatus.ATTACHED, "device": device or ""}
    if connection_info is not None:
        changes["connection_info"] = connection_info
    moved = status_moved(
        VolumeAttachment.objects.filter(pk=attachment.pk, status=AttachmentStatus.ATTACHING),
        **changes,
    )
    if not moved:
        return None
    _settle(attachment.volume_id, fault="")
    attachment.refresh_from_db()
    attachment.volume.refresh_from_db()
    return attachment


def _forget(attachment: VolumeAttachment) -> None:
    """Delete the attachment's row; the object keeps its id (Django clears it), for the
    caller and the worker's terminate_connection."""
    pk = attachment.pk
    attachment.delete()
    attachment.pk = pk


def _terminate(attachment: VolumeAttachment) -> None:
    backend_cast(
        attachment.volume.backend, VOLUME_TERMINATE_CONNECTION, _connection_request(attachment)
    )


@transaction.atomic
def attachment_failed(attachment_id: str, reason: str) -> None:
    """An attach that did not happen: the attachment goes, the volume is what its other
    attachments make it (available when none), with `reason` as its fault; its worker
    stops any export it began. Harmless when the attachment is already gone."""
    attachment = attachment_locked(attachment_id)
    if attachment is None:
        return
    log.warning(
        "attachment %s of volume %s failed: %s", attachment.pk, attachment.volume_id, reason
    )
    _forget(attachment)
    _settle(attachment.volume_id, fault=reason[:1024])
    _terminate(attachment)


@transaction.atomic
def begin_detach(context: RequestContext, attachment_id: str) -> VolumeAttachment:
    """Start detaching: attachment attached -> detaching (409 unless attached); the volume
    detaching unless another attachment stays attached. 404 for another project's."""
    attachment = attachment_locked(attachment_id)
    if attachment is None or not (
        context.is_admin or attachment.volume.project_id == context.project_id
    ):
        raise NotFound(f"Volume attachment {attachment_id} could not be found.")
    moved = status_moved(
        VolumeAttachment.objects.filter(pk=attachment.pk, status=AttachmentStatus.ATTACHED),
        status=AttachmentStatus.DETACHING,
    )
    if not moved:
        raise Conflict(
            f"Invalid volume: Volume {attachment.volume_id} is not attached to "
            f"{attachment.instance_uuid} (the attachment is {attachment.status})."
        )
    _settle(attachment.volume_id)
    attachment.refresh_from_db()
    attachment.volume.refresh_from_db()
    return attachment


@transaction.atomic
def detach_finished(attachment_id: str) -> VolumeAttachment | None:
    """The compute disconnected the volume: the attachment goes, the volume is available
    (in-use while other attachments remain), its worker stops any export. Returns the
    removed attachment (its delete_on_termination says whether the caller deletes the
    volume next), None when it was already gone."""
    attachment = attachment_locked(attachment_id)
    if attachment is None:
        return None
    _forget(attachment)
    _settle(attachment.volume_id, fault="")
    _terminate(attachment)
    attachment.volume.refresh_from_db()
    return attachment


@transaction.atomic
def detach_failed(attachment_id: str, reason: str) -> None:
    """A detach that did not happen: attachment back to attached, volume in-use, with
    `reason` as the volume's fault."""
    attachment = attachment_locked(attachment_id)
    if attachment is None:
        return
    status_moved(
        VolumeAttachment.objects.filter(pk=attachment.pk, status=AttachmentStatus.DETACHING),
        status=AttachmentStatus.ATTACHED,
    )
    _settle(attachment.volume_id, fault=reason[:1024])


def attachment_host_set(attachment_id: str, host: str) -> None:
    """The compute host an attachment not yet connected goes to (a root volume follows
    its server's build to the host the scheduler chose)."""
    VolumeAttachment.objects.filter(pk=attachment_id, status=AttachmentStatus.ATTACHING).update(
        host=host, updated_at=timezone.now()
    )


def attachment_delete_on_termination_set(attachment_id: str, delete_on_termination: bool) -> None:
    """Whether the volume goes with its server (Nova's PUT os-volume_attachments, 2.85)."""
    VolumeAttachment.objects.filter(pk=attachment_id).update(
        delete_on_termination=delete_on_termination, updated_at=timezone.now()
    )


def volumes_of_instance(instance_uuid: str) -> list[VolumeAttachment]:
    """The instance's attachments (any status), each with its volume, oldest first."""
    return list(
        VolumeAttachment.objects.select_related("volume")
        .filter(instance_uuid=instance_uuid)
        .order_by("created_at", "id")
    )


# -- backends ----------------------------------------------------------------------------


def backend_reported(
    *,
    name: str,
    host: str,
    driver: str,
    total_capacity_gb: float,
    free_capacity_gb: float,
    payload_version: str,
    started_at: str,
    sent_at: Any,
) -> None:
    """A volume worker's heartbeat: its backend's row, dated when it spoke."""
    VolumeBackend.objects.update_or_create(
        name=name,
        defaults={
            "host": host,
            "driver": driver,
            "total_capacity_gb": total_capacity_gb,
            "free_capacity_gb": free_capacity_gb,
            "payload_version": payload_version,
            "started_at": started_at,
            "last_seen": sent_at,
        },
    )
