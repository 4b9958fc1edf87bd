"""Compute worker configuration, from the environment only (no Django settings)."""

import os
import re
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
    # How often the host tells the conductor what libvirt says of each guest (Nova's
    # sync_power_state_interval, shorter: a guest that stopped by itself shows soon).
    power_sync_interval: float = 60.0
    # The image cache (Nova's image_cache_manager_interval and
    # remove_unused_original_minimum_age_seconds): how often unused bases are looked
    # for, and how long one stays unused before it is removed.
    image_cache_interval: float = 2400.0
    image_cache_max_age: float = 86400.0
    # Where guests' VNC, SPICE and serial consoles listen: an address of this host the
    # console proxy reaches; and the TCP ports serial consoles are given (Nova's
    # [serial_console] port_range).
    console_address: str = "127.0.0.1"
    serial_ports: range = range(10000, 20000)

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
            power_sync_interval=float(os.environ.get("POWER_SYNC_INTERVAL", "60")),
            image_cache_interval=float(os.environ.get("IMAGE_CACHE_INTERVAL", "2400")),
            image_cache_max_age=float(os.environ.get("IMAGE_CACHE_MAX_AGE", "86400")),
            console_address=os.environ.get("COMPUTE_CONSOLE_ADDRESS", "127.0.0.1"),
            serial_ports=_port_range(os.environ.get("COMPUTE_SERIAL_PORT_RANGE", "10000:20000")),
        )


def _port_range(text: str) -> range:
    """ "10000:20000" -> range(10000, 20000); ValueError naming the setting otherwise."""
    match = re.fullmatch(r"([0-9]{1,5}):([0-9]{1,5})", text)
    low, high = match.groups() if match else ("0", "0")
    if not 0 < int(low) < int(high) <= 65536:
        raise ValueError(f"COMPUTE_SERIAL_PORT_RANGE={text!r}: expected LOW:HIGH ports")
    return range(int(low), int(high))
