"""Volume worker configuration, from the environment only (no Django settings)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cloud.messaging import load_env_file
from cloud.payloads import PAYLOAD_VERSION, version_pin

DRIVERS = ("file", "nbd")


def _port_range(value: str) -> range:
    first, _, last = value.partition(":")
    return range(int(first), int(last or first) + 1)


@dataclass(frozen=True)
class VolumeConfig:
    # The backend this worker serves: its queue is `volume.<backend>`, and volume types
    # name it in their volume_backend_name extra spec.
    backend: str
    # "file": volumes are files under `path`, a directory every compute host mounts at
    # the same place; "nbd": they stay on this host and are exported over NBD.
    driver: str
    # This machine's name (shown in os-vol-host-attr:host and the admin).
    host: str
    path: Path
    # qcow2 (sparse, snapshots by copy) or raw.
    volume_format: str = "qcow2"
    # nbd: the address computes reach this host's exports at, and the ports exports take.
    export_address: str = "127.0.0.1"
    export_ports: range = range(10809, 10909)
    heartbeat_interval: float = 10.0
    # The capacity reported when set (GiB); else the filesystem's under `path`.
    capacity_gb: float | None = None
    payload_version: str = PAYLOAD_VERSION

    @classmethod
    def from_env(cls) -> "VolumeConfig":
        load_env_file()
        backend = os.environ.get("VOLUME_BACKEND", "file")
        driver = os.environ.get("VOLUME_DRIVER", backend if backend in DRIVERS else "file")
        if driver not in DRIVERS:
            raise ValueError(f"VOLUME_DRIVER={driver!r}: one of {', '.join(DRIVERS)}")
        volume_format = os.environ.get("VOLUME_FORMAT", "qcow2")
        if volume_format not in ("qcow2", "raw"):
            raise ValueError(f"VOLUME_FORMAT={volume_format!r}: qcow2 or raw")
        capacity = os.environ.get("VOLUME_CAPACITY_GB")
        return cls(
            backend=backend,
            driver=driver,
            host=os.environ.get("VOLUME_HOST") or socket.gethostname(),
            path=Path(os.environ.get("VOLUME_PATH", "/var/lib/stratus/volumes")),
            volume_format=volume_format,
            export_address=os.environ.get("VOLUME_EXPORT_ADDRESS", "127.0.0.1"),
            export_ports=_port_range(os.environ.get("VOLUME_EXPORT_PORT_RANGE", "10809:10908")),
            heartbeat_interval=float(os.environ.get("VOLUME_HEARTBEAT_INTERVAL", "10")),
            capacity_gb=float(capacity) if capacity else None,
            payload_version=version_pin(
                os.environ.get("VOLUME_PAYLOAD_VERSION", ""), "VOLUME_PAYLOAD_VERSION"
            ),
        )
