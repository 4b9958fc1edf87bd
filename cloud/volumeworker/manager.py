"""The volume manager: what a volume worker does with each message, and its reports.

Every task ends in a report to the conductor, success or failure (a failure's reason
is the volume's fault), so a volume never waits on a worker that gave up; a worker
that dies mid-task sends nothing, and the conductor's reaper ends the step instead.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cloud.payloads import (
    ConnectionRequest,
    ImageSpec,
    Payload,
    VolumeBackendReport,
    VolumeConnection,
    VolumeCreate,
    VolumeExtend,
    VolumeRef,
    VolumeResult,
    VolumeSnapshotRequest,
)
from cloud.volumeworker.backends import BackendError, VolumeBackendDriver
from cloud.volumeworker.config import VolumeConfig
from cloud.workers.virt.imagecache import ImageCache, ImageFetchError

log = logging.getLogger(__name__)

Send = Callable[[str, Payload], None]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class VolumeManager:
    def __init__(self, config: VolumeConfig, backend: VolumeBackendDriver, send: Send) -> None:
        self.config = config
        self.backend = backend
        self.send = send
        self.started_at = _now()
        self.incoming = Path(config.path) / ".incoming"
        self.images = ImageCache(self.incoming)

    def _failed(self, what: str, exc: Exception) -> str:
        if isinstance(exc, BackendError | ImageFetchError):
            log.warning("%s: %s", what, exc)
            return f"{what}: {exc}"
        log.exception("%s", what)
        return f"{what}: unexpected error on backend {self.config.backend} ({type(exc).__name__})"

    def _result(self, task: str, **fields) -> None:
        self.send(task, VolumeResult(backend=self.config.backend, **fields))

    def create_volume(self, msg: VolumeCreate) -> None:
        try:
            if msg.image and msg.image.get("download_url"):
                location = self._from_image(msg.volume_id, msg.size, ImageSpec.from_dict(msg.image))
            elif msg.snapshot_id:
                source = self.backend.snapshot_path(msg.snapshot_id)
                if not source.exists():
                    raise BackendError(f"snapshot {msg.snapshot_id} has no data on this backend")
                location = self.backend.create(msg.volume_id, msg.size, source)
            else:
                location = self.backend.create(msg.volume_id, msg.size)
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            error = self._failed(f"Volume {msg.volume_id} could not be created", exc)
            self._result("conductor.volume_created", volume_id=msg.volume_id, error=error)
            return
        self._result(
            "conductor.volume_created",
            volume_id=msg.volume_id,
            provider_location=location,
            size=msg.size,
            request_id=msg.request_id,
        )

    def _from_image(self, volume_id: str, size: int, image: ImageSpec) -> str:
        """Fetch and verify the image (the compute's fetch, with its transfer token)
        into a private file, then copy it into the volume."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        fetched = self.incoming / f"{volume_id}.{uuid.uuid4().hex}.image"
        try:
            self.images.download_to(image, fetched)
            return self.backend.create(volume_id, size, fetched)
        finally:
            fetched.unlink(missing_ok=True)

    def delete_volume(self, msg: VolumeRef) -> None:
        error = ""
        try:
            self.backend.delete(msg.volume_id)
        except Exception as exc:  # noqa: BLE001
            error = self._failed(f"Volume {msg.volume_id} could not be deleted", exc)
        self._result("conductor.volume_deleted", volume_id=msg.volume_id, error=error)

    def extend_volume(self, msg: VolumeExtend) -> None:
        error = ""
        try:
            self.backend.extend(msg.volume_id, msg.new_size)
        except Exception as exc:  # noqa: BLE001
            error = self._failed(f"Volume {msg.volume_id} could not be extended", exc)
        self._result(
            "conductor.volume_extended", volume_id=msg.volume_id, size=msg.new_size, error=error
        )

    def create_snapshot(self, msg: VolumeSnapshotRequest) -> None:
        location, error = "", ""
        try:
            location = self.backend.snapshot_create(msg.volume_id, msg.snapshot_id)
        except Exception as exc:  # noqa: BLE001
            error = self._failed(f"Snapshot {msg.snapshot_id} could not be created", exc)
        self._result(
            "conductor.volume_snapshot_created",
            volume_id=msg.volume_id,
            snapshot_id=msg.snapshot_id,
            provider_location=location,
            error=error,
        )

    def delete_snapshot(self, msg: VolumeSnapshotRequest) -> None:
        error = ""
        try:
            self.backend.snapshot_delete(msg.snapshot_id)
        except Exception as exc:  # noqa: BLE001
            error = self._failed(f"Snapshot {msg.snapshot_id} could not be deleted", exc)
        self._result(
            "conductor.volume_snapshot_deleted",
            volume_id=msg.volume_id,
            snapshot_id=msg.snapshot_id,
            error=error,
        )

    def initialize_connection(self, msg: ConnectionRequest) -> None:
        connection, error = {}, ""
        try:
            connection = self.backend.initialize_connection(
                msg.volume_id, msg.attachment_id, msg.host
            )
        except Exception as exc:  # noqa: BLE001
            error = self._failed(f"Volume {msg.volume_id} could not be connected", exc)
        self.send(
            "conductor.volume_connection_ready",
            VolumeConnection(
                attachment_id=msg.attachment_id,
                volume_id=msg.volume_id,
                host=msg.host,
                connection=connection,
                error=error,
                request_id=msg.request_id,
            ),
        )

    def terminate_connection(self, msg: ConnectionRequest) -> None:
        error = ""
        try:
            self.backend.terminate_connection(msg.volume_id, msg.attachment_id)
        except Exception as exc:  # noqa: BLE001
            error = self._failed(f"Volume {msg.volume_id} connection could not end", exc)
        self.send(
            "conductor.volume_connection_terminated",
            VolumeConnection(
                attachment_id=msg.attachment_id,
                volume_id=msg.volume_id,
                host=msg.host,
                error=error,
                request_id=msg.request_id,
            ),
        )

    def heartbeat(self) -> None:
        total, free = self.backend.capacity_gb()
        if self.config.capacity_gb is not None:
            total = self.config.capacity_gb
        self.send(
            "conductor.volume_backend_heartbeat",
            VolumeBackendReport(
                backend=self.config.backend,
                host=self.config.host,
                driver=self.backend.driver,
                total_capacity_gb=total,
                free_capacity_gb=min(free, total),
                payload_version=self.config.payload_version,
                started_at=self.started_at,
                sent_at=_now(),
            ),
        )
