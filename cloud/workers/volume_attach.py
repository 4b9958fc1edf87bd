"""The compute side of attaching and detaching volumes: the driver connects the volume
the conductor reserved (its connection as the volume worker exported it) to the guest,
or takes it out, and the host reports how it went to the conductor.

Attached: `conductor.volume_attached` with the target the guest has it on; failed:
`conductor.volume_attach_failed` (the conductor ends the attachment and has the volume
worker close its export). Detached: `conductor.volume_detached` (also when the guest
no longer had it: a repeated message does no harm); failed:
`conductor.volume_detach_failed` (the volume stays attached, with the error).
"""

import logging
import traceback

from cloud.payloads import AttachVolumeRequest, DetachVolumeRequest, VolumeAttached, VolumeDetached
from cloud.workers.manager import ComputeManager

log = logging.getLogger(__name__)


def _outcome(
    manager: ComputeManager, request: AttachVolumeRequest | DetachVolumeRequest
) -> dict[str, str]:
    return {
        "instance_uuid": request.instance_uuid,
        "host": manager.config.host,
        "request_id": request.request_id,
        "volume_id": request.volume_id,
        "attachment_id": request.attachment_id,
    }


def attach_volume(manager: ComputeManager, request: AttachVolumeRequest) -> None:
    outcome = _outcome(manager, request)
    try:
        device = manager.driver.attach_volume(request.instance_uuid, request.block_device)
    except Exception as exc:
        log.warning("attach of %s to %s failed: %s", request.volume_id, request.instance_uuid, exc)
        manager.send(
            "conductor.volume_attach_failed",
            VolumeAttached(**outcome, message=str(exc)[:255], details=traceback.format_exc()),
        )
        return
    log.info("volume %s attached to %s on %s", request.volume_id, request.instance_uuid, device)
    manager.send("conductor.volume_attached", VolumeAttached(**outcome, device=device))


def detach_volume(manager: ComputeManager, request: DetachVolumeRequest) -> None:
    outcome = _outcome(manager, request)
    try:
        had = manager.driver.detach_volume(request.instance_uuid, request.volume_id)
    except Exception as exc:
        log.warning(
            "detach of %s from %s failed: %s", request.volume_id, request.instance_uuid, exc
        )
        manager.send(
            "conductor.volume_detach_failed",
            VolumeDetached(**outcome, message=str(exc)[:255], details=traceback.format_exc()),
        )
        return
    log.info(
        "volume %s %s %s",
        request.volume_id,
        "detached from" if had else "was not attached to",
        request.instance_uuid,
    )
    manager.send("conductor.volume_detached", VolumeDetached(**outcome))
