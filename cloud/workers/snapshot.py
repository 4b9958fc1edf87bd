"""The compute side of createImage: the guest's root disk copied into the image store.

The driver writes the disk to a temporary file in the store (`image_snapshot`),
the host then reports `image_pending_upload` and `image_uploading` (the image is
`saving`), moves the file into place as `<image id>.<format>`, hashes it, and
tells the conductor where it is. A host whose hypervisor has no disks (libvirt's
test driver) answers with a failure saying so; the api refuses before that
when the host's reported capabilities say as much. Repeating it (a redelivered
message) finds the file in place and reports it again.
"""

import hashlib
import logging
import os
import traceback
from pathlib import Path

from cloud.payloads import SnapshotRequest, SnapshotResult, TaskProgress
from cloud.workers.manager import ComputeManager

log = logging.getLogger(__name__)

PENDING_UPLOAD = "image_pending_upload"
UPLOADING = "image_uploading"


def _hashes(path: Path) -> tuple[str, str]:
    """Glance's checksum (md5) and os_hash_value (sha512) of the file."""
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha512.update(chunk)
    return md5.hexdigest(), sha512.hexdigest()


def _step(manager: ComputeManager, request: SnapshotRequest, step: str, progress: int) -> None:
    manager.send(
        "conductor.instance_task_progress",
        TaskProgress(
            instance_uuid=request.instance_uuid,
            host=manager.config.host,
            request_id=request.request_id,
            action="create_image",
            step=step,
            progress=progress,
            image_id=request.image_id,
        ),
    )


def _write(manager: ComputeManager, request: SnapshotRequest) -> Path:
    store = manager.config.images_path
    target = store / f"{request.image_id}.{request.disk_format}"
    if target.exists():
        return target
    if not manager.driver.capabilities.get("supports_snapshot"):
        raise RuntimeError(
            f"The hypervisor of host {manager.config.host} ({manager.config.libvirt_uri}) "
            "keeps no guest disks to snapshot."
        )
    store.mkdir(parents=True, exist_ok=True)
    partial = store / f".{request.image_id}.partial"
    manager.driver.snapshot(request.instance_uuid, partial, request.disk_format)
    _step(manager, request, PENDING_UPLOAD, 50)
    _step(manager, request, UPLOADING, 75)
    os.replace(partial, target)
    return target


def snapshot_instance(manager: ComputeManager, request: SnapshotRequest) -> None:
    outcome = {
        "instance_uuid": request.instance_uuid,
        "host": manager.config.host,
        "request_id": request.request_id,
        "image_id": request.image_id,
    }
    try:
        target = _write(manager, request)
        checksum, sha512 = _hashes(target)
    except Exception as exc:
        log.warning("snapshot of %s failed: %s", request.instance_uuid, exc)
        manager.send(
            "conductor.snapshot_failed",
            SnapshotResult(**outcome, message=str(exc)[:255], details=traceback.format_exc()),
        )
        return
    manager.send(
        "conductor.snapshot_done",
        SnapshotResult(
            **outcome,
            path=str(target),
            size=target.stat().st_size,
            checksum=checksum,
            os_hash_value=sha512,
        ),
    )
