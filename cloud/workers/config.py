"""Compute worker configuration, from the environment only (no Django settings)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cloud.messaging import load_env_file


@dataclass(frozen=True)
class ComputeConfig:
    host: str
    libvirt_uri: str
    instances_path: Path
    heartbeat_interval: float
    # The test hypervisor has no storage to report; operators state the disk.
    disk_gb: int | None

    @classmethod
    def from_env(cls) -> "ComputeConfig":
        load_env_file()
        disk = os.environ.get("COMPUTE_DISK_GB")
        return cls(
            host=os.environ.get("COMPUTE_HOST") or socket.gethostname(),
            libvirt_uri=os.environ.get("LIBVIRT_URI", "test:///default"),
            instances_path=Path(
                os.environ.get("COMPUTE_INSTANCES_PATH", "/var/lib/stratus/instances")
            ),
            heartbeat_interval=float(os.environ.get("HEARTBEAT_INTERVAL", "10")),
            disk_gb=int(disk) if disk else None,
        )
