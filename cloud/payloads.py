"""Every message exchanged between Stratus services: built and read here only.

Messages are plain JSON dicts with a `version` ("MAJOR.MINOR"). A reader
accepts any version with its own major number and ignores fields it does not
know, so a control plane at 1.N talks to a compute at 1.(N-1); a writer
targets the version its peer last announced (a compute announces the version
it speaks in its heartbeat): `to_dict(version)` leaves out the fields added
after that version (each names its `since` in its field metadata) and refuses
a message that did not exist then (`PayloadTooNew`). A compute pinned to an
older version (`from_dict(data, speaks=...)`) reads as that version's code
did: it refuses newer messages and ignores newer fields. This module imports
no Django: the compute worker uses it.

History:
    1.0 -- initial: InstanceSpec, BuildRequest, TerminateRequest,
           SpawnResult, BuildFailure, Terminated, HostReport.
    1.1 -- HostReport.sent_at: liveness is when the host spoke, not when the
           conductor got round to the message (a 1.0 report is dated on receipt).
    1.2 -- server actions: ActionRequest (api -> compute.reboot_instance,
           power_off/power_on/pause/unpause/suspend/resume_instance),
           ActionResult (compute -> conductor.instance_action_done/_failed),
           ConsoleRequest and ConsoleOutput (api <-> compute.get_console_output).
           New messages only: a 1.1 compute still builds and deletes.
           ImageSpec.kernel_file and ramdisk_file (optional): where the compute
           host finds the image's kernel and ramdisk parts, for direct kernel
           boot; a 1.1 compute ignores them and boots from the disk.
    1.3 -- rebuild, evacuate and snapshots: RebuildRequest (-> compute.rebuild_instance),
           SnapshotRequest (-> compute.snapshot_instance), TaskProgress
           (compute -> conductor.instance_task_progress), SnapshotResult
           (compute -> conductor.snapshot_done/_failed); HostReport.capabilities
           (optional: the driver's optional features, e.g. supports_snapshot).
           A 1.2 compute still builds, acts and deletes; a rebuild, evacuation or
           snapshot on it is refused (409) before anything is written.
    1.4 -- resize: MigrationRequest (-> compute.resize_instance, finish_resize,
           confirm_resize, revert_resize, finish_revert_resize) and MigrationResult
           (compute -> conductor.migration_step_done/_failed). New messages only:
           a resize is refused (409) while the source host speaks 1.3, and one
           whose chosen destination speaks 1.3 ends before the guest is touched.
    1.5 -- periodic work: GuestStates (compute -> conductor.sync_power_states, every
           few minutes: what libvirt says of each guest), ComputeStarted (compute ->
           conductor.compute_started: its HostReport and GuestStates when the worker
           starts) and ReconcileRequest (conductor -> compute.reconcile: the work
           the host had in hand when it stopped). New messages only: a 1.4 compute
           sends none of them, so it is neither synced nor reconciled.
    1.6 -- the control plane's own messages: BuildInstances (api ->
           conductor.build_instances), MigrationTask (api -> conductor.resize_instance,
           confirm_resize, revert_resize, evacuate_instance), SchedulingRequest (conductor
           -> scheduler.select_destinations(_batch)) and SchedulerAnswer (scheduler ->
           the conductor task the request names: schedule_done(_batch),
           resize_scheduled, evacuate_scheduled). Up to 1.5 they were plain dicts of the
           same fields: a 1.5 conductor or scheduler reads one of these as before (it
           ignores `version`), and a dict without a version is read as 1.5.
           SchedulingRequest.same_host_hosts, different_host_hosts and group_hosts: the
           hosts of the instances named by the hints and of the group's other members,
           resolved by the conductor, so the scheduler never reads instances. A 1.5
           scheduler ignores them and looks the hosts up itself from same_host,
           different_host and group_uuid, which the request still carries. The api
           builds for the conductor, and the conductor for the scheduler, in the
           version UPGRADE_LEVEL_CONDUCTOR / UPGRADE_LEVEL_SCHEDULER pins (cloud.rpc);
           a conductor or scheduler speaks an older one under PAYLOAD_VERSION_PIN.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

PAYLOAD_VERSION = "1.6"
MAJOR = PAYLOAD_VERSION.split(".")[0]


class PayloadError(ValueError):
    """A message this side cannot read (wrong major version or missing fields)."""


class PayloadTooNew(PayloadError):
    """The message (or its kind) is newer than the version the peer speaks."""


def version_key(version: str) -> tuple[int, int]:
    """ "1.10" -> (1, 10), so versions compare as numbers; PayloadError if malformed."""
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise PayloadError(f"malformed payload version {version!r}")
    return int(major), int(minor)


def previous_version(version: str = PAYLOAD_VERSION) -> str:
    """The minor before `version` (what a compute one release behind speaks)."""
    major, minor = version_key(version)
    return f"{major}.{max(minor - 1, 0)}"


def version_pin(value: str, name: str) -> str:
    """A configured version to speak or to write (`name` says which setting): empty for
    ours, else an older minor of our major (a rolling upgrade's N-1), never a newer one."""
    if not value:
        return PAYLOAD_VERSION
    if value.split(".")[0] != MAJOR or version_key(value) > version_key(PAYLOAD_VERSION):
        raise ValueError(f"{name}={value!r}: this side speaks {MAJOR}.0 to {PAYLOAD_VERSION}")
    return value


def _check_version(data: dict[str, Any], kind: str) -> None:
    version = data.get("version")
    if not isinstance(version, str) or version.split(".")[0] != MAJOR:
        raise PayloadError(f"{kind}: unsupported payload version {version!r}")


def since(version: str) -> dict[str, str]:
    """Field metadata: the payload version that added the field."""
    return {"since": version}


class Payload:
    """Shared to_dict / from_dict for the dataclasses below; SINCE is the version
    that added the message itself."""

    KIND = "payload"
    SINCE = "1.0"
    # The version a message without one is read as: set on the messages that were
    # plain dicts before they became payloads (a peer of that age sends no version).
    UNVERSIONED: str | None = None

    @classmethod
    def downgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        """`data` without the fields a `version` peer does not know; nested messages
        (dicts of other payloads) are downgraded by the classes that hold them."""
        target = version_key(version)
        newer = {
            f.name
            for f in fields(cls)  # type: ignore[arg-type]
            if version_key(f.metadata.get("since", "1.0")) > target
        }
        result = {k: v for k, v in data.items() if k not in newer}
        if isinstance(data.get("version"), str) and version_key(data["version"]) > target:
            result["version"] = version  # a nested message claims no more than it holds
        return result

    def to_dict(self, version: str = PAYLOAD_VERSION) -> dict[str, Any]:
        """The message as a peer speaking `version` reads it (never above ours)."""
        if version_key(version) > version_key(PAYLOAD_VERSION):
            version = PAYLOAD_VERSION
        if version_key(self.SINCE) > version_key(version):
            raise PayloadTooNew(
                f"{self.KIND} messages need payload version {self.SINCE}; the peer speaks {version}"
            )
        data = self.downgrade(asdict(self), version)  # type: ignore[call-overload]
        data["version"] = version
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], speaks: str = PAYLOAD_VERSION) -> Self:
        """Read a message; a reader pinned to an older version (`speaks`) refuses one
        newer than it and ignores the fields its version did not have."""
        if not isinstance(data, dict):
            raise PayloadError(f"{cls.KIND}: expected an object, got {type(data).__name__}")
        if cls.UNVERSIONED and "version" not in data:
            data = {**data, "version": cls.UNVERSIONED}
        _check_version(data, cls.KIND)
        if speaks != PAYLOAD_VERSION:
            pinned = version_key(speaks)
            if version_key(cls.SINCE) > pinned or version_key(data["version"]) > pinned:
                raise PayloadTooNew(
                    f"{cls.KIND} {data['version']}: this side speaks payload version {speaks}"
                )
            data = cls.downgrade(data, speaks)
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise PayloadError(f"{cls.KIND}: {exc}") from exc


@dataclass(frozen=True)
class FlavorSpec(Payload):
    KIND = "flavor"
    name: str
    memory_mb: int
    vcpus: int
    root_gb: int
    ephemeral_gb: int = 0
    swap: int = 0
    extra_specs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSpec(Payload):
    KIND = "image"
    id: str
    name: str
    disk_format: str = ""
    container_format: str = ""
    size: int | None = None
    min_disk: int = 0
    properties: dict[str, Any] = field(default_factory=dict)
    # Paths on the compute host of the parts named by the kernel_id and
    # ramdisk_id properties; empty when the image boots from its disk.
    kernel_file: str = field(default="", metadata=since("1.2"))
    ramdisk_file: str = field(default="", metadata=since("1.2"))


@dataclass(frozen=True)
class InstanceSpec(Payload):
    """Everything a compute host needs to know about an instance."""

    KIND = "instance"
    uuid: str
    name: str
    display_name: str
    hostname: str
    project_id: str
    user_id: str
    flavor: dict[str, Any]
    image: dict[str, Any]
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def downgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        data = super().downgrade(data, version)
        if isinstance(data.get("image"), dict):
            data["image"] = ImageSpec.downgrade(data["image"], version)
        return data

    @property
    def flavor_spec(self) -> FlavorSpec:
        return FlavorSpec.from_dict({**self.flavor, "version": PAYLOAD_VERSION})

    @property
    def image_spec(self) -> ImageSpec:
        return ImageSpec.from_dict({**self.image, "version": PAYLOAD_VERSION})


class CarriesInstance:
    """A message holding a built InstanceSpec in its `instance` field (a dict, so the
    message stays plain JSON): downgraded with it, read back as an InstanceSpec."""

    instance: dict[str, Any]

    @classmethod
    def downgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        data = super().downgrade(data, version)  # type: ignore[misc]
        if data.get("instance"):
            data["instance"] = InstanceSpec.downgrade(data["instance"], version)
        return data

    @property
    def instance_spec(self) -> InstanceSpec:
        return InstanceSpec.from_dict({**self.instance, "version": PAYLOAD_VERSION})


@dataclass(frozen=True)
class BuildRequest(CarriesInstance, Payload):
    """conductor -> compute.build_and_run_instance"""

    KIND = "build_request"
    instance: dict[str, Any]
    request_id: str
    attempt: int = 1


@dataclass(frozen=True)
class TerminateRequest(Payload):
    """api -> compute.terminate_instance"""

    KIND = "terminate_request"
    instance_uuid: str
    name: str
    request_id: str


@dataclass(frozen=True)
class SpawnResult(Payload):
    """compute -> conductor.instance_spawned"""

    KIND = "spawn_result"
    instance_uuid: str
    host: str
    request_id: str
    power_state: int
    attempt: int = 1


@dataclass(frozen=True)
class BuildFailure(Payload):
    """compute -> conductor.build_failed"""

    KIND = "build_failure"
    instance_uuid: str
    host: str
    request_id: str
    attempt: int
    message: str
    details: str = ""


@dataclass(frozen=True)
class Terminated(Payload):
    """compute -> conductor.instance_terminated"""

    KIND = "terminated"
    instance_uuid: str
    host: str
    request_id: str


@dataclass(frozen=True)
class HostReport(Payload):
    """compute -> conductor.compute_heartbeat: who the host is and what it has."""

    KIND = "host_report"
    host: str
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_hostname: str
    libvirt_uri: str
    vcpus: int
    memory_mb: int
    local_gb: int
    cpu_info: dict[str, Any] = field(default_factory=dict)
    payload_version: str = PAYLOAD_VERSION
    started_at: str = ""
    sent_at: str = field(default="", metadata=since("1.1"))
    # The driver's optional features (ComputeDriver.capabilities).
    capabilities: dict[str, bool] = field(default_factory=dict, metadata=since("1.3"))


@dataclass(frozen=True)
class ActionRequest(Payload):
    """api -> compute.<verb>_instance: one lifecycle action on a guest of this host."""

    KIND = "action_request"
    SINCE = "1.2"
    instance_uuid: str
    name: str
    request_id: str
    # The state machine's action ("reboot", "stop", ...) and the task_state the
    # api set for it: the conductor's conditional update expects that one.
    action: str
    task_state: str
    hard: bool = False


@dataclass(frozen=True)
class ActionResult(Payload):
    """compute -> conductor.instance_action_done / conductor.instance_action_failed"""

    KIND = "action_result"
    SINCE = "1.2"
    instance_uuid: str
    host: str
    request_id: str
    action: str
    task_state: str
    # What the hypervisor says afterwards; None when it could not tell.
    power_state: int | None
    message: str = ""
    details: str = ""


@dataclass(frozen=True)
class ConsoleRequest(Payload):
    """api -> compute.get_console_output (a synchronous call)"""

    KIND = "console_request"
    SINCE = "1.2"
    instance_uuid: str
    # The last `length` lines; None for all the host keeps.
    length: int | None = None


@dataclass(frozen=True)
class ConsoleOutput(Payload):
    """compute -> api, the answer to compute.get_console_output"""

    KIND = "console_output"
    SINCE = "1.2"
    available: bool
    output: str = ""
    # Why there is no output, for people (when not available).
    message: str = ""


@dataclass(frozen=True)
class RebuildRequest(CarriesInstance, Payload):
    """api / conductor -> compute.rebuild_instance: destroy the guest and spawn it again
    from the instance's (new) image; for an evacuation, on a host that never had it."""

    KIND = "rebuild_request"
    SINCE = "1.3"
    instance: dict[str, Any]
    request_id: str
    # The state machine's action ("rebuild" or "evacuate") and the task_state set for it.
    action: str
    task_state: str
    # The guest was shut off: leave it so once rebuilt (Nova's rule).
    stopped: bool = False


@dataclass(frozen=True)
class SnapshotRequest(Payload):
    """api -> compute.snapshot_instance: copy the guest's root disk into the image store."""

    KIND = "snapshot_request"
    SINCE = "1.3"
    instance_uuid: str
    name: str
    request_id: str
    image_id: str
    task_state: str
    disk_format: str = "qcow2"


@dataclass(frozen=True)
class TaskProgress(Payload):
    """compute -> conductor.instance_task_progress: a long action reached its next step
    (a word of the state machine's `steps` for that action, e.g. "spawning")."""

    KIND = "task_progress"
    SINCE = "1.3"
    instance_uuid: str
    host: str
    request_id: str
    action: str
    step: str
    progress: int | None = None
    # The image a snapshot writes, when the step concerns one.
    image_id: str = ""


@dataclass(frozen=True)
class SnapshotResult(Payload):
    """compute -> conductor.snapshot_done / conductor.snapshot_failed"""

    KIND = "snapshot_result"
    SINCE = "1.3"
    instance_uuid: str
    host: str
    request_id: str
    image_id: str
    # Where the image's data now is (a path every host reads), and what it is.
    path: str = ""
    size: int | None = None
    checksum: str = ""
    os_hash_value: str = ""
    message: str = ""
    details: str = ""


@dataclass(frozen=True)
class MigrationRequest(CarriesInstance, Payload):
    """conductor or api -> compute.<step> of a resize on one of its two hosts."""

    KIND = "migration_request"
    SINCE = "1.4"
    migration_uuid: str
    instance_uuid: str
    request_id: str
    # The guest as the host must define it (the new flavor on the destination,
    # the old one on the source for a revert); empty for steps that only stop
    # or remove the guest.
    instance: dict[str, Any] = field(default_factory=dict)
    # Whether the guest runs afterwards (a stopped server is resized stopped).
    power_on: bool = True


@dataclass(frozen=True)
class MigrationResult(Payload):
    """compute -> conductor.migration_step_done / conductor.migration_step_failed"""

    KIND = "migration_result"
    SINCE = "1.4"
    migration_uuid: str
    instance_uuid: str
    host: str
    request_id: str
    # The compute task that ran ("resize_instance", "finish_resize", ...).
    step: str
    # What the hypervisor says afterwards; None when no guest is left or it could not tell.
    power_state: int | None = None
    message: str = ""
    details: str = ""


@dataclass(frozen=True)
class GuestStates(Payload):
    """compute -> conductor.sync_power_states: the power state libvirt gives every guest
    defined on the host (uuid -> Nova power state), guests the platform may not know
    included."""

    KIND = "guest_states"
    SINCE = "1.5"
    host: str
    guests: dict[str, int]
    # When the host read them (taken before reading): an instance changed after that
    # is not judged on this report.
    sampled_at: str


@dataclass(frozen=True)
class ComputeStarted(Payload):
    """compute -> conductor.compute_started: the worker (re)started; who it is (a
    HostReport) and what its hypervisor holds (a GuestStates)."""

    KIND = "compute_started"
    SINCE = "1.5"
    report: dict[str, Any]
    guests: dict[str, Any]

    @property
    def host_report(self) -> HostReport:
        return HostReport.from_dict({**self.report, "version": PAYLOAD_VERSION})

    @property
    def guest_states(self) -> GuestStates:
        return GuestStates.from_dict({**self.guests, "version": PAYLOAD_VERSION})


@dataclass(frozen=True)
class ReconcileRequest(Payload):
    """conductor -> compute.reconcile: what the host had in hand when its worker stopped,
    to be finished (reported done when libvirt shows it done, or redone when the step
    is safe to repeat) or failed. Each list holds that message's dicts."""

    KIND = "reconcile_request"
    SINCE = "1.5"
    host: str
    builds: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    terminations: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def downgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        data = super().downgrade(data, version)
        for key, kind in (
            ("builds", BuildRequest),
            ("actions", ActionRequest),
            ("terminations", TerminateRequest),
        ):
            data[key] = [kind.downgrade(item, version) for item in data.get(key, [])]
        return data

    @property
    def build_requests(self) -> list[BuildRequest]:
        return [BuildRequest.from_dict({**b, "version": PAYLOAD_VERSION}) for b in self.builds]

    @property
    def action_requests(self) -> list[ActionRequest]:
        return [ActionRequest.from_dict({**a, "version": PAYLOAD_VERSION}) for a in self.actions]

    @property
    def terminate_requests(self) -> list[TerminateRequest]:
        return [
            TerminateRequest.from_dict({**t, "version": PAYLOAD_VERSION}) for t in self.terminations
        ]


# -- the control plane's messages (1.6; plain dicts of the same fields before) -------


@dataclass(frozen=True)
class BuildInstances(Payload):
    """api -> conductor.build_instances: schedule and build the instances of one create."""

    KIND = "build_instances"
    UNVERSIONED = "1.5"
    instance_uuids: list[str]
    request_id: str


@dataclass(frozen=True)
class MigrationTask(Payload):
    """api -> conductor.resize_instance, confirm_resize, revert_resize, evacuate_instance:
    the migration the api recorded, for the conductor to carry on."""

    KIND = "migration_task"
    SINCE = "1.3"
    UNVERSIONED = "1.5"
    migration_uuid: str
    request_id: str


@dataclass(frozen=True)
class SchedulingRequest(Payload):
    """conductor -> scheduler.select_destinations(_batch): what one decision must satisfy,
    with the hosts the scheduler needs resolved (it never reads instances)."""

    KIND = "scheduling_request"
    UNVERSIONED = "1.5"
    instance_uuid: str
    project_id: str
    resources: dict[str, int]
    user_id: str = ""
    availability_zone: str | None = None
    forced_host: str | None = None
    flavor_extra_specs: dict[str, str] = field(default_factory=dict)
    image_properties: dict[str, str] = field(default_factory=dict)
    group_uuid: str | None = None
    # Instance uuids named by the hints (what the user asked, kept for a 1.5 scheduler).
    same_host: list[str] = field(default_factory=list)
    different_host: list[str] = field(default_factory=list)
    # The `query` hint as JSON text (cloud.scheduler.query); empty when not given.
    query: str = ""
    ignore_hosts: list[str] = field(default_factory=list)
    # Echoed in the answer, for the conductor task that reads it.
    request_id: str = ""
    attempt: int = 1
    migration_uuid: str = ""
    # The hosts of the live instances named by same_host / different_host.
    same_host_hosts: list[str] = field(default_factory=list, metadata=since("1.6"))
    different_host_hosts: list[str] = field(default_factory=list, metadata=since("1.6"))
    # The hosts of the group's other live members when the conductor asked (host: how
    # many); None when not resolved (a 1.5 request), then read from the group's table.
    group_hosts: dict[str, int] | None = field(default=None, metadata=since("1.6"))


@dataclass(frozen=True)
class SchedulerAnswer(Payload):
    """scheduler -> conductor.schedule_done(_batch), resize_scheduled, evacuate_scheduled:
    the host claimed for a request (and alternates for reschedules), or why none."""

    KIND = "scheduler_answer"
    UNVERSIONED = "1.5"
    instance_uuid: str
    request_id: str
    host: str | None = None
    alternates: list[str] = field(default_factory=list)
    error: str | None = None
    attempt: int = 1
    migration_uuid: str = ""
