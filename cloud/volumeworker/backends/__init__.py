"""Volume backends: the contract (base.py) and the two drivers, file and nbd."""

from pathlib import Path

from cloud.volumeworker.backends.base import BackendError, VolumeBackendDriver
from cloud.volumeworker.backends.file import FileBackend
from cloud.volumeworker.backends.nbd import NbdBackend
from cloud.volumeworker.config import VolumeConfig


def backend_for(config: VolumeConfig) -> VolumeBackendDriver:
    """The driver `config.driver` names, on `config.path`."""
    path = Path(config.path)
    if config.driver == "nbd":
        return NbdBackend(
            path,
            volume_format=config.volume_format,
            address=config.export_address,
            ports=config.export_ports,
        )
    return FileBackend(path, volume_format=config.volume_format)


__all__ = ["BackendError", "FileBackend", "NbdBackend", "VolumeBackendDriver", "backend_for"]
