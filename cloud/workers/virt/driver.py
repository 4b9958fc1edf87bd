"""The hypervisor driver contract every virt driver implements.

Drivers take and return plain dataclasses (cloud.payloads specs and the
types below), never database rows. Optional features are declared in
`capabilities` so callers can refuse early instead of failing on the host.
"""

import abc
from dataclasses import dataclass, field
from typing import Any

from cloud.payloads import InstanceSpec


class HypervisorError(Exception):
    """The hypervisor refused or failed an operation; the message is for people."""


@dataclass(frozen=True)
class HostResources:
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    cpu_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceInfo:
    uuid: str
    name: str
    power_state: int
    max_memory_kb: int
    memory_kb: int
    num_cpus: int
    cpu_time_ns: int


class ComputeDriver(abc.ABC):
    capabilities: dict[str, bool] = {}

    @abc.abstractmethod
    def init_host(self, host: str) -> None:
        """Connect to the hypervisor; called once when the worker starts."""

    @abc.abstractmethod
    def host_resources(self) -> HostResources:
        """What the host has in total: CPUs, memory, disk, hypervisor identity."""

    @abc.abstractmethod
    def spawn(self, instance: InstanceSpec) -> InstanceInfo:
        """Create and start the guest. Idempotent: a guest already defined
        with this uuid is started if needed and reported, not duplicated."""

    @abc.abstractmethod
    def destroy(self, instance_uuid: str) -> bool:
        """Stop the guest, remove its definition and local files. Returns
        False when no such guest existed (a repeated destroy is harmless)."""

    @abc.abstractmethod
    def get_info(self, instance_uuid: str) -> InstanceInfo | None:
        """The guest's state as the hypervisor sees it, or None if unknown."""

    @abc.abstractmethod
    def list_instance_uuids(self) -> list[str]:
        """Uuids of every guest defined on this host."""

    @abc.abstractmethod
    def get_diagnostics(self, instance_uuid: str) -> dict[str, Any] | None:
        """Nova's standard diagnostics (microversion 2.48 shape) or None."""
