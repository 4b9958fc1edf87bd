"""The compute side of createImage: the guest's root disk uploaded to the image API.

The driver writes a standalone copy of the disk (its backing chain merged) to a
temporary file in the guest's directory (`image_snapshot`), the host reports
`image_pending_upload`, then `image_uploading` while it PUTs the file to
`/image/v2/images/{id}/file` with the image-scoped upload token the request
carries (no path is shared between hosts: the image service stores the data,
and every host fetches it from there). The image becomes active when the image
API has it; the host tells the conductor the size and hashes it sent. The
temporary copy is removed either way. Repeating it (a redelivered message)
finds the image no longer queued: the image API refuses the second upload and
the conductor ignores an outcome it already has.
"""

import hashlib
import logging
import traceback
from pathlib import Path

from cloud.payloads import SnapshotRequest, SnapshotResult, TaskProgress
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.imagecache import upload_file

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


def _upload(manager: ComputeManager, request: SnapshotRequest, copy: Path) -> SnapshotResult:
    if not request.upload_url:
        raise RuntimeError(f"snapshot {request.image_id}: the request names no upload URL")
    if not manager.driver.capabilities.get("supports_snapshot"):
        raise RuntimeError(
            f"The hypervisor of host {manager.config.host} ({manager.config.libvirt_uri}) "
            "keeps no guest disks to snapshot."
        )
    manager.driver.snapshot(request.instance_uuid, copy, request.disk_format)
    _step(manager, request, PENDING_UPLOAD, 50)
    checksum, sha512 = _hashes(copy)
    _step(manager, request, UPLOADING, 75)
    upload_file(
        copy,
        url=request.upload_url,
        token=request.upload_token,
        what=f"snapshot {request.image_id}",
    )
    return SnapshotResult(
        instance_uuid=request.instance_uuid,
        host=manager.config.host,
        request_id=request.request_id,
        image_id=request.image_id,
        size=copy.stat().st_size,
        checksum=checksum,
        os_hash_value=sha512,
    )


def snapshot_instance(manager: ComputeManager, request: SnapshotRequest) -> None:
    directory = manager.config.instances_path / request.instance_uuid
    copy = directory / f".snapshot-{request.image_id}.{request.disk_format}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        result = _upload(manager, request, copy)
    except Exception as exc:
        log.warning("snapshot of %s failed: %s", request.instance_uuid, exc)
        manager.send(
            "conductor.snapshot_failed",
            SnapshotResult(
                instance_uuid=request.instance_uuid,
                host=manager.config.host,
                request_id=request.request_id,
                image_id=request.image_id,
                message=str(exc)[:255],
                details=traceback.format_exc(),
            ),
        )
        return
    finally:
        copy.unlink(missing_ok=True)
    log.info("snapshot %s of %s uploaded", request.image_id, request.instance_uuid)
    manager.send("conductor.snapshot_done", result)
