"""Attaching and detaching volumes, between the volume worker and the compute host.

Attach: the api reserved the attachment (the volume `attaching`, cloud.instances.
volume_attach) and asked the volume worker for the volume's connection;
`connection_ready` (conductor.volume_connection_ready, the worker's answer) records it
and sends it to the server's host (`compute.attach_volume`), whose report ends the
attach: `volume_attached` writes the attachment connected (the volume `in-use`),
`volume_attach_failed` ends it (the volume `available` again, the worker told to close
its export). Detach: the api began it (the volume `detaching`) and told the host
(`compute.detach_volume`); `volume_detached` finishes it (the volume `available`, its
export closed; conductor.volume_connection_terminated then only logs), and
`volume_detach_failed` leaves it attached (`in-use`) with the error as its fault.

The volume side (cloud.volumes.services) owns the attachment's states; each step here
is safe to repeat: an outcome for an attachment no longer in the state it answers is
ignored, and a guest that got a volume whose attach was given up meanwhile (the reaper,
cloud.conductor.volumes, failed it) is told to let it go again. The instance action
(`attach_volume`, `detach_volume`) records each outcome for `server event list`.
"""

import logging
from dataclasses import replace

from django.db import transaction

from cloud.instances import actions
from cloud.instances.selectors import instance_locked, request_spec_locked
from cloud.instances.specs import instance_spec
from cloud.instances.states import VmState
from cloud.instances.volume_attach import ATTACH_EVENT, DETACH_EVENT
from cloud.payloads import (
    AttachVolumeRequest,
    BlockDevice,
    BuildRequest,
    DetachVolumeRequest,
    VolumeAttached,
    VolumeConnection,
    VolumeDetached,
)
from cloud.rpc import cast_compute
from cloud.volumes import services as volumes
from cloud.volumes.selectors import attachment_get

log = logging.getLogger(__name__)


def _finish(
    instance_uuid: str, request_id: str, event: str, host: str, error: str = "", details: str = ""
) -> None:
    """The instance action's event and the action itself, done or failed."""
    actions.finish(
        instance_uuid=instance_uuid,
        request_id=request_id,
        event=event,
        host=host,
        result="Error" if error else "Success",
        traceback=details or None,
        details=error or None,
        action_message="Error" if error else None,
    )


@transaction.atomic
def connection_ready(*, connection: VolumeConnection) -> bool:
    """Record the connection on the attachment and send it to the server's host; False
    when the worker could not make one (the attachment is failed with its reason), the
    attachment is no longer attaching (a late answer), or the server is gone or moved
    since the attach began (the attachment is failed)."""
    attachment = attachment_get(attachment_id=connection.attachment_id)
    if attachment is None:
        return False
    uuid = str(attachment.instance_uuid)
    instance = instance_locked(uuid=uuid)
    error = connection.error
    if not error and (instance is None or instance.deleted):
        error = f"Instance {uuid} was deleted while volume {connection.volume_id} attached."
    elif not error and instance.host != attachment.host:
        error = f"Instance {uuid} left host {attachment.host} while the volume attached."
    if error:
        volumes.attachment_failed(connection.attachment_id, error)
        _finish(uuid, connection.request_id, ATTACH_EVENT, attachment.host, error)
        return False
    if not volumes.attachment_record_connection(connection.attachment_id, connection.connection):
        return False
    if instance.vm_state == VmState.BUILDING:
        _build_with_root_volume(instance, attachment, connection)
        return True
    cast_compute(
        attachment.host,
        "compute.attach_volume",
        AttachVolumeRequest(
            instance_uuid=uuid,
            request_id=connection.request_id,
            volume_id=str(attachment.volume_id),
            attachment_id=str(attachment.id),
            connection=connection.connection,
            device=attachment.device,
        ),
    )
    return True


def _build_with_root_volume(instance, attachment, connection: VolumeConnection) -> None:
    """A server booting from this volume: its build goes to the host now, the volume its
    root disk (boot_index 0, vda)."""
    root = BlockDevice(
        volume_id=str(attachment.volume_id),
        attachment_id=str(attachment.id),
        connection=connection.connection,
        device="vda",
        boot_index=0,
    )
    spec = replace(instance_spec(instance), block_devices=[root.to_dict()])
    attempt = request_spec_locked(instance_uuid=str(instance.uuid)).num_attempts
    cast_compute(
        attachment.host,
        "compute.build_and_run_instance",
        BuildRequest(instance=spec.to_dict(), request_id=connection.request_id, attempt=attempt),
    )


def connection_terminated(*, connection: VolumeConnection) -> None:
    """The worker stopped serving the attachment (its row is already gone)."""
    log.info(
        "volume %s: connection of attachment %s to %s terminated",
        connection.volume_id,
        connection.attachment_id,
        connection.host,
    )


@transaction.atomic
def volume_attached(*, result: VolumeAttached) -> None:
    """The host connected the volume: attached, in-use. An attach given up meanwhile
    (the attachment failed or gone) is undone on the host."""
    attachment = volumes.attachment_connected(result.attachment_id, result.device)
    if attachment is None:
        log.warning(
            "volume %s reached %s after its attach was given up: detaching it",
            result.volume_id,
            result.instance_uuid,
        )
        cast_compute(
            result.host,
            "compute.detach_volume",
            DetachVolumeRequest(
                instance_uuid=result.instance_uuid,
                request_id=result.request_id,
                volume_id=result.volume_id,
                attachment_id=result.attachment_id,
            ),
        )
        return
    _finish(result.instance_uuid, result.request_id, ATTACH_EVENT, result.host)


@transaction.atomic
def volume_attach_failed(*, result: VolumeAttached) -> None:
    volumes.attachment_failed(result.attachment_id, result.message)
    _finish(
        result.instance_uuid,
        result.request_id,
        ATTACH_EVENT,
        result.host,
        result.message or "the host could not attach the volume",
        result.details,
    )


@transaction.atomic
def volume_detached(*, result: VolumeDetached) -> None:
    """The guest let go of the volume: the attachment goes, the volume is available (its
    export closed). A report for an attachment already gone does nothing."""
    if volumes.detach_finished(result.attachment_id) is None:
        return
    _finish(result.instance_uuid, result.request_id, DETACH_EVENT, result.host)


@transaction.atomic
def volume_detach_failed(*, result: VolumeDetached) -> None:
    volumes.detach_failed(result.attachment_id, result.message)
    _finish(
        result.instance_uuid,
        result.request_id,
        DETACH_EVENT,
        result.host,
        result.message or "the host could not detach the volume",
        result.details,
    )
