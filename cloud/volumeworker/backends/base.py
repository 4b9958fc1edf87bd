"""The contract every volume backend implements (in the manner of Cinder's volume
driver): each method documents what it must guarantee.

Every operation is idempotent, because a task may be delivered twice (acks_late, a
worker that died before acknowledging): creating a volume that exists, deleting one
that is gone, extending one already at its size, all succeed. Data is written beside
its final place and renamed into it, so a worker that dies mid-create leaves no
half-made volume behind, only a partial file the next attempt (or a delete) removes.
Locations are derived from ids, so a delete finds the data even when the create's
report never arrived.
"""

import abc
from pathlib import Path
from typing import Any


class BackendError(Exception):
    """The backend could not do it; the message is for people (it becomes the fault)."""


class VolumeBackendDriver(abc.ABC):
    driver = "abstract"

    @abc.abstractmethod
    def create(self, volume_id: str, size_gb: int, source: Path | None = None) -> str:
        """Make a volume of size_gb GiB, empty or holding `source`'s data (a disk image
        file any qemu-img format, grown to size_gb); return its location."""

    @abc.abstractmethod
    def delete(self, volume_id: str) -> None:
        """Remove the volume's data (and what a failed create left); gone already: fine."""

    @abc.abstractmethod
    def extend(self, volume_id: str, new_size_gb: int) -> None:
        """Grow the volume to new_size_gb GiB (never shrink it)."""

    @abc.abstractmethod
    def snapshot_create(self, volume_id: str, snapshot_id: str) -> str:
        """Copy the volume's data as it is now, standalone; return the copy's location."""

    @abc.abstractmethod
    def snapshot_delete(self, snapshot_id: str) -> None:
        """Remove a snapshot's data; gone already: fine."""

    @abc.abstractmethod
    def snapshot_path(self, snapshot_id: str) -> Path:
        """Where a snapshot's data is (a volume made from it copies it)."""

    @abc.abstractmethod
    def initialize_connection(
        self, volume_id: str, attachment_id: str, host: str
    ) -> dict[str, Any]:
        """How compute `host` reaches the volume for this attachment (Cinder's
        connection_info data): {"driver_volume_type": "file", "path", "format"} or
        {"driver_volume_type": "nbd", "host", "port", "export_name", "format"}. Asked
        again for the same attachment, the same answer."""

    @abc.abstractmethod
    def terminate_connection(self, volume_id: str, attachment_id: str) -> None:
        """The attachment is gone: stop serving it (unknown attachment: fine)."""

    @abc.abstractmethod
    def capacity_gb(self) -> tuple[float, float]:
        """(total, free) GiB where the volumes live."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Called once when the worker starts (re-establish what must run)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Called when the worker stops."""
