"""The hypervisor driver contract every virt driver implements.

Drivers take and return plain dataclasses (cloud.payloads specs and the
types below), never database rows. Optional features are declared in
`capabilities` so callers can refuse early instead of failing on the host.
"""

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud.payloads import BlockDevice, ImageSpec, InstanceSpec, VifSpec


class HypervisorError(Exception):
    """The hypervisor refused or failed an operation; the message is for people."""


class NotSupported(HypervisorError):
    """The driver does not implement this optional operation."""


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
    power_state: int  # a cloud.power_state.PowerState
    max_memory_kb: int
    memory_kb: int
    num_cpus: int
    cpu_time_ns: int


class ComputeDriver(abc.ABC):
    """A driver must implement the abstract methods: connecting, host resources,
    spawn and destroy, what it has, and the basic power actions. The others are
    optional: by default they raise NotSupported, so a new driver implements only
    what its hypervisor can do, and the worker reports the refusal like any other
    hypervisor error.

    Optional features that callers must check before asking are named in
    `capabilities`:

    - supports_diagnostics: get_diagnostics answers.
    - supports_console_output: get_console_output answers (the hypervisor
      keeps the guest's console log); callers must not ask otherwise.
    - supports_snapshot: snapshot answers (the guest has a root disk on this
      host to copy); callers must not ask otherwise.
    - supports_remote_consoles: console_endpoints can name VNC, SPICE or serial
      endpoints (a guest really runs, with graphics); elsewhere it names none.
    - supports_volume_hotplug: attach_volume and detach_volume reach a running guest
      (it sees the disk come and go); elsewhere only its definition changes.
    """

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

    def power_states(self) -> dict[str, int]:
        """The power state of every guest defined on this host, by uuid, for the
        periodic power-state sync. This default asks per guest; a driver that can
        answer in one look at the hypervisor overrides it."""
        states = {}
        for uuid in self.list_instance_uuids():
            info = self.get_info(uuid)
            if info is not None:
                states[uuid] = info.power_state
        return states

    def get_diagnostics(self, instance_uuid: str) -> dict[str, Any] | None:
        """Nova's standard diagnostics (microversion 2.48 shape) or None."""
        raise NotSupported(f"{type(self).__name__} does not support get_diagnostics")

    # -- lifecycle actions --------------------------------------------------
    # Each one takes the guest's uuid and returns its state afterwards. Each is
    # idempotent: asked for the state the guest is already in, it does nothing
    # and reports it (a redelivered message does no harm). A guest this host
    # does not have, or a hypervisor refusal, raises HypervisorError.

    @abc.abstractmethod
    def reboot(self, instance_uuid: str, *, hard: bool) -> InstanceInfo:
        """Soft: ask the running guest to restart (ACPI); a guest that is not
        running cannot be soft-rebooted. Hard: power the guest off if needed
        (discarding any saved memory image) and start it again, from any state."""

    @abc.abstractmethod
    def power_off(self, instance_uuid: str) -> InstanceInfo:
        """Ask the guest to shut down, and cut its power if it has not done so
        within the driver's shutdown timeout. The definition and disks stay."""

    @abc.abstractmethod
    def power_on(self, instance_uuid: str) -> InstanceInfo:
        """Start a guest that is shut off."""

    def pause(self, instance_uuid: str) -> InstanceInfo:
        """Stop the guest's vCPUs, keeping its memory in place on the host."""
        raise NotSupported(f"{type(self).__name__} does not support pause")

    def unpause(self, instance_uuid: str) -> InstanceInfo:
        """Let a paused guest's vCPUs run again."""
        raise NotSupported(f"{type(self).__name__} does not support unpause")

    def suspend(self, instance_uuid: str) -> InstanceInfo:
        """Save the guest's memory to disk and stop it (it then uses no CPU or RAM)."""
        raise NotSupported(f"{type(self).__name__} does not support suspend")

    def resume(self, instance_uuid: str) -> InstanceInfo:
        """Restore a suspended guest from its saved memory and let it run."""
        raise NotSupported(f"{type(self).__name__} does not support resume")

    def get_console_output(self, instance_uuid: str, length: int | None) -> str:
        """The guest's console log, its last `length` lines (all when None).
        Only called when `capabilities["supports_console_output"]` is true."""
        raise NotSupported(f"{type(self).__name__} does not support get_console_output")

    def console_endpoints(self, instance_uuid: str) -> dict[str, dict[str, Any]]:
        """Where the running guest's remote consoles listen, as the hypervisor reports
        them now: kind ("vnc", "spice", "serial") -> {"host": address, "port": int}.
        Empty when the guest is not running or the hypervisor gives it none."""
        return {}

    # -- interfaces -----------------------------------------------------------

    def attach_interface(self, instance_uuid: str, vif: VifSpec) -> bool:
        """Add the port's interface to the guest: to the running guest where the
        hypervisor can, and to its persistent definition always (the guest has it from
        its next start at the latest). True when the running guest has it now.
        Idempotent: an interface with the port's MAC already there is left."""
        raise NotSupported(f"{type(self).__name__} does not support attach_interface")

    def detach_interface(self, instance_uuid: str, vif: VifSpec) -> bool:
        """Take the port's interface from the guest (running and persistent, as above).
        True when the running guest has it no more. Idempotent."""
        raise NotSupported(f"{type(self).__name__} does not support detach_interface")

    # -- resize -------------------------------------------------------------

    def finish_migration(
        self, instance: InstanceSpec, *, power_on: bool, disk_image: ImageSpec | None = None
    ) -> InstanceInfo:
        """Define the guest on this host with the spec's flavor, replacing a definition
        of the same guest (a resize on one host, a revert), and start it when
        `power_on`. Its root disk is the one already here, grown to the flavor's size,
        or, for a move from another host, fetched from `disk_image` (the copy the
        source uploaded). Idempotent: a guest already running with that flavor is
        only reported."""
        raise NotSupported(f"{type(self).__name__} does not support finish_migration")

    def upload_root_disk(self, instance_uuid: str, *, url: str, token: str) -> None:
        """Upload a standalone copy of the stopped guest's root disk (qcow2) to the image
        API at `url` with the transfer `token`: how its disk moves to another host."""
        raise NotSupported(f"{type(self).__name__} does not support upload_root_disk")

    # -- snapshots ------------------------------------------------------------

    def snapshot(self, instance_uuid: str, target: Path, disk_format: str) -> None:
        """Write the guest's root disk to `target` as a `disk_format` image, consistent
        (the guest writes nothing meanwhile) and leaving the guest in the power state
        it was in. Only called when `capabilities["supports_snapshot"]` is true."""
        raise NotSupported(f"{type(self).__name__} does not support snapshot")

    # -- volumes --------------------------------------------------------------

    def attach_volume(self, instance_uuid: str, volume: BlockDevice) -> str:
        """Give the guest the volume's disk on `volume.device`, else on the next free
        virtio target after its own disks, and return that target ("/dev/vdb"). A
        running guest gets it hot-plugged where the hypervisor can; the guest's
        persistent definition carries it either way. Idempotent: a volume the guest
        already has is reported on its target. A target taken by another disk, or a
        connection the host cannot use, raises HypervisorError."""
        raise NotSupported(f"{type(self).__name__} does not support attach_volume")

    def detach_volume(self, instance_uuid: str, volume_id: str) -> bool:
        """Take the volume's disk out of the guest: out of a running guest first (waiting
        until the guest lets go of it), then out of its definition. False when the guest
        (or the host) did not have it: a repeated detach is harmless."""
        raise NotSupported(f"{type(self).__name__} does not support detach_volume")

    # -- the image cache --------------------------------------------------------

    def cached_images(self) -> list[dict[str, Any]]:
        """The base images cached on this host: image_id, size, last_used, in_use."""
        return []

    def evict_images(self, max_age: float) -> list[str]:
        """Remove cached bases no guest uses, idle for `max_age` seconds; their ids."""
        return []
