"""Compute worker configuration, from the environment only (no Django settings)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cloud.messaging import load_env_file
from cloud.payloads import PAYLOAD_VERSION, version_pin


@dataclass(frozen=True)
class ComputeConfig:
    host: str
    libvirt_uri: str
    instances_path: Path
    heartbeat_interval: float
    # The test hypervisor has no storage to report; operators state the disk.
    disk_gb: int | None
    # The payload version it speaks: announced in its heartbeats, written and read.
    payload_version: str = PAYLOAD_VERSION
    # The image store: where snapshots are written, at a path every host reads.
    images_path: Path = Path("/var/lib/stratus/images")
    # How often the host tells the conductor what libvirt says of each guest (Nova's
    # sync_power_state_interval, shorter: a guest that stopped by itself shows soon).
    power_sync_interval: float = 60.0

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
            # COMPUTE_PAYLOAD_VERSION: a rolling upgrade's N-1 host, or a test standing in for one.
            payload_version=version_pin(
                os.environ.get("COMPUTE_PAYLOAD_VERSION", ""), "COMPUTE_PAYLOAD_VERSION"
            ),
            images_path=Path(os.environ.get("COMPUTE_IMAGES_PATH", "/var/lib/stratus/images")),
            power_sync_interval=float(os.environ.get("POWER_SYNC_INTERVAL", "60")),
        )
