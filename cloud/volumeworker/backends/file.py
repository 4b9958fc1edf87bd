"""The file backend: each volume is one qcow2 (or raw) file under a directory every
compute host mounts at the same path (NFS, or one machine's disk in a dev stack); the
compute attaches the file itself. Snapshots are standalone copies beside it."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cloud.volumeworker.backends.base import BackendError, VolumeBackendDriver

GIB = 1 << 30


def qemu_img(*args: str, timeout: float = 3600) -> str:
    """Run qemu-img; its stdout, or BackendError with what it said."""
    try:
        done = subprocess.run(
            ["qemu-img", *args], check=True, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.CalledProcessError as exc:
        raise BackendError(f"qemu-img {args[0]} failed: {exc.stderr.strip()}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendError(f"qemu-img {args[0]} failed: {exc}") from exc
    return done.stdout


def virtual_size(path: Path) -> int:
    info = json.loads(qemu_img("info", "--output=json", "--force-share", str(path), timeout=60))
    return int(info["virtual-size"])


class FileBackend(VolumeBackendDriver):
    driver = "file"

    def __init__(self, directory: Path, *, volume_format: str = "qcow2") -> None:
        self.directory = Path(directory)
        self.format = volume_format
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, volume_id: str) -> Path:
        return self.directory / f"volume-{volume_id}"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.directory / f"snapshot-{snapshot_id}"

    @staticmethod
    def _partial(path: Path) -> Path:
        return path.with_name(f".{path.name}.part")

    def create(self, volume_id: str, size_gb: int, source: Path | None = None) -> str:
        target = self.path(volume_id)
        if target.exists():
            return str(target)
        partial = self._partial(target)
        try:
            if source is None:
                qemu_img("create", "-q", "-f", self.format, str(partial), f"{size_gb}G")
            else:
                qemu_img("convert", "-q", "-U", "-O", self.format, str(source), str(partial))
                if virtual_size(partial) < size_gb * GIB:
                    qemu_img("resize", "-q", "-f", self.format, str(partial), f"{size_gb}G")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return str(target)

    def delete(self, volume_id: str) -> None:
        target = self.path(volume_id)
        self._partial(target).unlink(missing_ok=True)
        target.unlink(missing_ok=True)

    def extend(self, volume_id: str, new_size_gb: int) -> None:
        target = self.path(volume_id)
        if not target.exists():
            raise BackendError(f"volume {volume_id} has no data on this backend")
        if virtual_size(target) >= new_size_gb * GIB:
            return
        qemu_img("resize", "-q", "-f", self.format, str(target), f"{new_size_gb}G")

    def snapshot_create(self, volume_id: str, snapshot_id: str) -> str:
        source, target = self.path(volume_id), self.snapshot_path(snapshot_id)
        if target.exists():
            return str(target)
        if not source.exists():
            raise BackendError(f"volume {volume_id} has no data on this backend")
        partial = self._partial(target)
        try:
            # -U: an attached volume is locked by its guest's QEMU; a crash-consistent
            # copy is what Cinder's force=True snapshot of an in-use volume gives too.
            qemu_img("convert", "-q", "-U", "-O", self.format, str(source), str(partial))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return str(target)

    def snapshot_delete(self, snapshot_id: str) -> None:
        target = self.snapshot_path(snapshot_id)
        self._partial(target).unlink(missing_ok=True)
        target.unlink(missing_ok=True)

    def initialize_connection(
        self, volume_id: str, attachment_id: str, host: str
    ) -> dict[str, Any]:
        target = self.path(volume_id)
        if not target.exists():
            raise BackendError(f"volume {volume_id} has no data on this backend")
        return {"driver_volume_type": "file", "path": str(target), "format": self.format}

    def terminate_connection(self, volume_id: str, attachment_id: str) -> None:
        return None

    def capacity_gb(self) -> tuple[float, float]:
        usage = shutil.disk_usage(self.directory)
        return round(usage.total / GIB, 2), round(usage.free / GIB, 2)
