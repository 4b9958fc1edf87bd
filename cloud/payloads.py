"""Every message exchanged between Stratus services: built and read here only.

Messages are plain JSON dicts with a `version` ("MAJOR.MINOR"). A reader
accepts any version with its own major number and ignores fields it does not
know, so a control plane at 1.N talks to a compute at 1.(N-1); a writer
targets the version its peer last announced (a compute announces
`PAYLOAD_VERSION` in its heartbeat). This module imports no Django: the
compute worker uses it.

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
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

PAYLOAD_VERSION = "1.2"
MAJOR = PAYLOAD_VERSION.split(".")[0]


class PayloadError(ValueError):
    """A message this side cannot read (wrong major version or missing fields)."""


def _check_version(data: dict[str, Any], kind: str) -> None:
    version = data.get("version")
    if not isinstance(version, str) or version.split(".")[0] != MAJOR:
        raise PayloadError(f"{kind}: unsupported payload version {version!r}")


class Payload:
    """Shared to_dict / from_dict for the dataclasses below."""

    KIND = "payload"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)  # type: ignore[call-overload]
        data["version"] = PAYLOAD_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise PayloadError(f"{cls.KIND}: expected an object, got {type(data).__name__}")
        _check_version(data, cls.KIND)
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
    kernel_file: str = ""
    ramdisk_file: str = ""


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

    @property
    def flavor_spec(self) -> FlavorSpec:
        return FlavorSpec.from_dict({**self.flavor, "version": PAYLOAD_VERSION})

    @property
    def image_spec(self) -> ImageSpec:
        return ImageSpec.from_dict({**self.image, "version": PAYLOAD_VERSION})


@dataclass(frozen=True)
class BuildRequest(Payload):
    """conductor -> compute.build_and_run_instance"""

    KIND = "build_request"
    instance: dict[str, Any]
    request_id: str
    attempt: int = 1

    @property
    def instance_spec(self) -> InstanceSpec:
        return InstanceSpec.from_dict({**self.instance, "version": PAYLOAD_VERSION})


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
    sent_at: str = ""


@dataclass(frozen=True)
class ActionRequest(Payload):
    """api -> compute.<verb>_instance: one lifecycle action on a guest of this host."""

    KIND = "action_request"
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
    instance_uuid: str
    # The last `length` lines; None for all the host keeps.
    length: int | None = None


@dataclass(frozen=True)
class ConsoleOutput(Payload):
    """compute -> api, the answer to compute.get_console_output"""

    KIND = "console_output"
    available: bool
    output: str = ""
    # Why there is no output, for people (when not available).
    message: str = ""
