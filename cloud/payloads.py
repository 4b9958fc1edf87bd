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
    1.7 -- guests boot from image data, disks move with the guest: ImageSpec.download_url,
           transfer_token (a short-lived credential for that image's data only, never a
           password), os_hash_algo, os_hash_value and virtual_size: the host fetches the
           image over HTTP into its cache of base images, verifies it and backs the root
           disk with it. SnapshotRequest.upload_url and upload_token: the host uploads the
           snapshot to the image API (no shared image path). MigrationRequest.disk_upload
           (to the source's resize_instance: where to upload the stopped guest's root disk)
           and disk_image (to the destination's finish_resize: the ImageSpec of that copy).
           HostReport.image_cache: the base images the host holds. A 1.6 compute ignores
           the new fields (its guests get an empty root disk, as before); a snapshot, or a
           resize to another host, on a 1.6 host is refused (409) before anything is written.
    1.8 -- consoles: SpawnResult.consoles, ActionResult.consoles and
           MigrationResult.consoles (optional): the guest's remote-console endpoints
           as the host read them back from the live domain XML (kind -> {"host",
           "port"}: vnc, spice, serial), None when not reported. A 1.7 compute sends
           none, so its guests get no remote console (400, as for a hypervisor
           without one); the conductor keeps what it had.
    1.9 -- networks: InstanceSpec.ports (optional: the guest's interfaces, VifSpec dicts
           the conductor resolved from the instance's bound ports; a 1.8 compute ignores
           them and defines a guest without interfaces), and the messages between the
           network controller (queue `network`) and the per-host network agents (queue
           `network.<host>`), described below. New messages only: a 1.8 host gets no
           agent message (its ports stay DOWN until it is upgraded).
    1.10 -- interfaces hot-plugged: InterfaceRequest (api -> compute.attach_interface,
           compute.detach_interface, synchronous calls answered with an
           InterfaceResult): one interface of a guest (a VifSpec dict) added to or
           taken from its domain, live when the guest runs and the hypervisor can, and
           in its persistent definition. New messages only: a 1.9 host is not asked,
           and the interface reaches its guest at the next build, rebuild or move.
    1.11 -- block storage: the messages between the control plane and the volume
           workers (one per backend, queue `volume.<backend>`, no database), described
           below. New messages only: nothing older sends or reads them.
    1.12 -- volumes on the compute hosts: AttachVolumeRequest (conductor ->
           compute.attach_volume) and DetachVolumeRequest (-> compute.detach_volume), and
           VolumeAttached / VolumeDetached (compute -> conductor.volume_attached,
           volume_attach_failed, volume_detached, volume_detach_failed); the connection
           they carry is what the volume worker answered (VolumeConnection.connection,
           1.10). InstanceSpec.block_devices (optional: the guest's volumes at boot, a
           root volume with boot_index 0 instead of a local root disk). New messages
           only: an attach or detach on a 1.11 host is refused (409) before anything is
           written, and a boot from volume is not scheduled to one.
    1.13 -- config drives: InstanceSpec.config_drive (the server was created with
           `config_drive`) and InstanceSpec.user_data (its user data, base64 as the API
           took it); the host writes them, with the meta and network data, to an
           iso9660 drive labelled config-2 (cloud.workers.virt.configdrive). Optional:
           a 1.12 host builds the guest without a drive.

The network agent's messages (1.9). The controller (cloud.network, a Celery worker
on queue `network`) sends, through cloud.rpc, to the agent on `network.<host>`:

    network_agent.network_setup     NetworkSetup: create or update the network on the
                                    host (VLAN tag, DHCP server and its host entries).
                                    Idempotent: the whole desired state, every time.
    network_agent.network_teardown  NetworkTeardown: the host has no more ports on it.
    network_agent.port_bind         PortBinding: plug (or re-plug) the guest's tap into
                                    the integration bridge with the network's VLAN tag,
                                    and apply the port's security group rules (resolved
                                    to plain dicts). Sent again when its rules change.
    network_agent.port_unbind       PortUnbinding: remove the port from the host.
    network_agent.floating_ip_set   FloatingIPMapping: NAT floating <-> fixed address.
    network_agent.floating_ip_unset FloatingIPMapping: remove that NAT.

The control plane tells the controller what changed, on queue `network` (NetworkSync;
the controller reads the rows and works out what each host must hear):

    network.sync_port               a port was created, bound, changed or freed
    network.sync_network            a network or its subnets changed (or went: `hosts`)
    network.sync_security_group     a group's rules or members changed
    network.sync_floating_ip        a floating IP was associated or released

and the agent reports to the controller, on queue `network`:

    network.port_status             PortStatus: the port is ACTIVE (wired), DOWN
                                    (unplugged) or ERROR (with a message).
    network.agent_heartbeat         AgentReport: the agent is alive, what it speaks.

The volume worker's messages (1.11). The api and the conductor send, through
cloud.rpc, to the worker on `volume.<backend>`:

    volume.create_volume            VolumeCreate: make the volume's data (empty, from an
                                    image fetched with a transfer token, or from a snapshot)
    volume.delete_volume            VolumeRef: remove the volume's data (gone already: fine)
    volume.extend_volume            VolumeExtend: grow the volume to `new_size` GiB
    volume.create_snapshot          VolumeSnapshotRequest: copy the volume's data now
    volume.delete_snapshot          VolumeSnapshotRequest: remove a snapshot's data
    volume.initialize_connection    ConnectionRequest: how may `host` reach the volume?
                                    (nbd: start an export for the attachment)
    volume.terminate_connection     ConnectionRequest: the attachment is gone (stop it)

and the worker reports to the conductor (every report is idempotent):

    conductor.volume_created        VolumeResult (error empty: done; else the reason)
    conductor.volume_deleted        VolumeResult
    conductor.volume_extended       VolumeResult
    conductor.volume_snapshot_created  VolumeResult (snapshot_id set)
    conductor.volume_snapshot_deleted  VolumeResult (snapshot_id set)
    conductor.volume_connection_ready       VolumeConnection: the connection info
    conductor.volume_connection_terminated  VolumeConnection (connection empty)
    conductor.volume_backend_heartbeat      VolumeBackendReport (heartbeat queue)
"""

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

PAYLOAD_VERSION = "1.13"
MAJOR = PAYLOAD_VERSION.split(".")[0]


class PayloadError(ValueError):
    """A message this side cannot read (wrong major version or missing fields)."""


class PayloadTooNew(PayloadError):
    """The message (or its kind) is newer than the version the peer speaks."""


_VERSION_RE = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}")


def version_key(version: str) -> tuple[int, int]:
    """ "1.10" -> (1, 10), so versions compare as numbers; PayloadError if malformed."""
    # ASCII digits only (str.isdigit() takes "²", which int() refuses); no Django here,
    # so not cloud.api.parsing.
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise PayloadError(f"malformed payload version {version!r}")
    major, minor = version.split(".")
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
    # Where and how the host fetches the image's data (GET, the token in the
    # X-Image-Transfer-Token header), and what it must hash to; empty when the image
    # has no data to fetch (the guest then gets an empty root disk).
    download_url: str = field(default="", metadata=since("1.7"))
    transfer_token: str = field(default="", metadata=since("1.7"))
    os_hash_algo: str = field(default="", metadata=since("1.7"))
    os_hash_value: str = field(default="", metadata=since("1.7"))
    virtual_size: int | None = field(default=None, metadata=since("1.7"))


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
    # The guest's network interfaces in order: VifSpec dicts.
    ports: list[dict[str, Any]] = field(default_factory=list, metadata=since("1.9"))
    # The guest's volumes at boot: BlockDevice dicts; the one with boot_index 0 is its
    # root disk (no local root disk is made then).
    block_devices: list[dict[str, Any]] = field(default_factory=list, metadata=since("1.12"))
    # A config drive for the guest (Nova's config_drive), holding its user data (base64,
    # as the API took it; empty: none).
    config_drive: bool = field(default=False, metadata=since("1.13"))
    user_data: str = field(default="", metadata=since("1.13"))

    @classmethod
    def downgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        data = super().downgrade(data, version)
        if isinstance(data.get("image"), dict):
            data["image"] = ImageSpec.downgrade(data["image"], version)
        return data

    @property
    def vifs(self) -> list["VifSpec"]:
        return [VifSpec.from_dict({**p, "version": PAYLOAD_VERSION}) for p in self.ports]

    @property
    def volumes(self) -> list["BlockDevice"]:
        return [
            BlockDevice.from_dict({**b, "version": PAYLOAD_VERSION}) for b in self.block_devices
        ]

    @property
    def root_volume(self) -> "BlockDevice | None":
        return next((b for b in self.volumes if b.boot_index == 0), None)

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
    # The guest's console endpoints (ConsoleEndpoints); None: not reported.
    consoles: dict[str, dict[str, Any]] | None = field(default=None, metadata=since("1.8"))


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
    # The base images cached on the host: {"image_id", "size", "last_used", "in_use"}.
    image_cache: list[dict[str, Any]] = field(default_factory=list, metadata=since("1.7"))


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
    # The guest's console endpoints after the action (its ports change when it
    # restarts); None: not reported.
    consoles: dict[str, dict[str, Any]] | None = field(default=None, metadata=since("1.8"))


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
    # Where the host PUTs the image's data (the token in X-Image-Transfer-Token).
    upload_url: str = field(default="", metadata=since("1.7"))
    upload_token: str = field(default="", metadata=since("1.7"))


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
    # resize_instance on the source of a move to another host: where to upload the
    # stopped guest's root disk ({"url": ..., "token": ...}); empty on one host.
    disk_upload: dict[str, str] = field(default_factory=dict, metadata=since("1.7"))
    # finish_resize on the destination: the ImageSpec (a dict) of that uploaded copy,
    # the guest's root disk there; empty when the disk stays where it is.
    disk_image: dict[str, Any] = field(default_factory=dict, metadata=since("1.7"))


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
    # The guest's console endpoints on this host after the step; None: not reported.
    consoles: dict[str, dict[str, Any]] | None = field(default=None, metadata=since("1.8"))


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


# -- networks (1.9) ------------------------------------------------------------------


@dataclass(frozen=True)
class VifSpec(Payload):
    """One network interface of a guest (InstanceSpec.ports): what the compute puts in the
    domain XML. The agent plugs the same tap device into the bridge (PortBinding)."""

    KIND = "vif"
    SINCE = "1.9"
    port_id: str
    network_id: str
    mac_address: str
    # The guest's tap device on the host ("tap" + port id[:11], Neutron's name).
    devname: str
    # The Open vSwitch integration bridge the interface is plugged into.
    bridge: str = "br-int"
    # The network's VLAN tag on the host's bridge (the agent sets it on the port).
    segmentation_id: int | None = None
    mtu: int = 1500
    # [{"ip_address", "subnet_id", "cidr", "prefixlen", "gateway_ip", "version"}]
    fixed_ips: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class InterfaceRequest(Payload):
    """api -> compute.attach_interface / compute.detach_interface (synchronous calls):
    one of the guest's interfaces, plugged into or unplugged from its domain."""

    KIND = "interface_request"
    SINCE = "1.10"
    instance_uuid: str
    # A VifSpec dict: the interface as the domain XML carries it.
    vif: dict[str, Any]

    @property
    def vif_spec(self) -> VifSpec:
        return VifSpec.from_dict({**self.vif, "version": PAYLOAD_VERSION})


@dataclass(frozen=True)
class InterfaceResult(Payload):
    """compute -> api, the answer to compute.attach_interface / detach_interface."""

    KIND = "interface_result"
    SINCE = "1.10"
    instance_uuid: str
    port_id: str
    done: bool
    # The running guest has it (or lost it) now, not only its persistent definition.
    live: bool = False
    # Why not, for people (when not done).
    message: str = ""


@dataclass(frozen=True)
class NetworkSync(Payload):
    """api / conductor -> network.sync_*: the row that changed; the controller reads it
    and sends each host's agent its new desired state."""

    KIND = "network_sync"
    SINCE = "1.9"
    resource_id: str
    # The hosts the resource was on before the change (a deleted row's hosts cannot be
    # read back): they are told to drop it.
    hosts: list[str] = field(default_factory=list)
    # The network the resource belongs to, when it was deleted with it.
    network_id: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class NetworkSetup(Payload):
    """controller -> network_agent.network_setup on each host with ports on the network:
    its whole desired state on that host (the agent converges; a repeat is harmless)."""

    KIND = "network_setup"
    SINCE = "1.9"
    network_id: str
    name: str
    project_id: str
    # "vlan" (tagged on the integration bridge and the trunk) or "flat" (untagged).
    network_type: str
    segmentation_id: int | None
    physical_network: str | None = None
    mtu: int = 1500
    external: bool = False
    # [{"id", "cidr", "ip_version", "gateway_ip", "enable_dhcp", "dns_nameservers": [..],
    #   "allocation_pools": [{"start", "end"}], "prefixlen"}]
    subnets: list[dict[str, Any]] = field(default_factory=list)
    # This host's DHCP server port (dnsmasq's interface in the network's namespace):
    # {"port_id", "mac_address", "devname", "fixed_ips": [{"ip_address", "subnet_id",
    # "prefixlen"}]}; empty when no subnet has DHCP on.
    dhcp_port: dict[str, Any] = field(default_factory=dict)
    # What dnsmasq hands out: [{"mac_address", "ip_address", "hostname", "port_id"}].
    dhcp_hosts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class NetworkTeardown(Payload):
    """controller -> network_agent.network_teardown: the host has no port on the network
    any more (or it was deleted): remove its DHCP server and namespace."""

    KIND = "network_teardown"
    SINCE = "1.9"
    network_id: str
    segmentation_id: int | None = None


@dataclass(frozen=True)
class PortBinding(Payload):
    """controller -> network_agent.port_bind: wire the port on this host: tag its tap
    device on the integration bridge with the network's VLAN, and filter its traffic
    with its security groups' rules (ingress rules open, the rest is dropped; egress as
    the rules say). Sent again, whole, whenever the port or its rules change."""

    KIND = "port_binding"
    SINCE = "1.9"
    port_id: str
    network_id: str
    host: str
    mac_address: str
    devname: str
    segmentation_id: int | None
    network_type: str = "vlan"
    bridge: str = "br-int"
    mtu: int = 1500
    # [{"ip_address", "subnet_id", "cidr", "prefixlen", "gateway_ip", "version"}]
    fixed_ips: list[dict[str, Any]] = field(default_factory=list)
    # The server the port belongs to ("" for a port no guest uses yet).
    instance_uuid: str = ""
    # Neutron's device_owner: "compute:nova", "network:dhcp", ...
    device_owner: str = ""
    admin_state_up: bool = True
    port_security_enabled: bool = True
    security_group_ids: list[str] = field(default_factory=list)
    # The rules of those groups, resolved: [{"id", "direction": "ingress"|"egress",
    # "ethertype": "IPv4"|"IPv6", "protocol": None|"tcp"|"udp"|"icmp"|<number as str>,
    # "port_range_min", "port_range_max", "remote_ip_prefixes": [cidr, ...]}], where a
    # rule naming a remote group lists that group's members' addresses as /32 prefixes
    # and a rule with neither matches any address.
    security_group_rules: list[dict[str, Any]] = field(default_factory=list)
    # The addresses the port may send from besides its fixed IPs (Neutron's
    # allowed_address_pairs): [{"ip_address", "mac_address"}].
    allowed_address_pairs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PortUnbinding(Payload):
    """controller -> network_agent.port_unbind: take the port off this host (its tap,
    its filters); harmless when it is not there."""

    KIND = "port_unbinding"
    SINCE = "1.9"
    port_id: str
    network_id: str
    host: str
    devname: str
    mac_address: str = ""


@dataclass(frozen=True)
class FloatingIPMapping(Payload):
    """controller -> network_agent.floating_ip_set / floating_ip_unset on the host of the
    port: NAT between a floating address on an external network and a fixed address
    (DNAT in, SNAT out)."""

    KIND = "floating_ip_mapping"
    SINCE = "1.9"
    floating_ip_id: str
    floating_ip_address: str
    floating_network_id: str
    host: str
    port_id: str
    fixed_ip_address: str
    # The external network's VLAN tag and subnet (prefix length, gateway) on the host.
    floating_segmentation_id: int | None = None
    floating_prefixlen: int = 24
    floating_gateway_ip: str | None = None
    # The fixed address's network, for the agent to find its namespace/port.
    network_id: str = ""
    segmentation_id: int | None = None


@dataclass(frozen=True)
class PortStatus(Payload):
    """agent -> network.port_status: what the agent made of a port on its host."""

    KIND = "port_status"
    SINCE = "1.9"
    port_id: str
    host: str
    # "ACTIVE" (wired), "DOWN" (unplugged) or "ERROR".
    status: str
    message: str = ""
    # When the agent saw it (ISO 8601): an older report than the port's last binding
    # is ignored.
    sent_at: str = ""


@dataclass(frozen=True)
class AgentReport(Payload):
    """agent -> network.agent_heartbeat: the network agent of `host` is alive."""

    KIND = "agent_report"
    SINCE = "1.9"
    host: str
    payload_version: str = PAYLOAD_VERSION
    bridge: str = "br-int"
    started_at: str = ""
    sent_at: str = ""
    # What the agent can do, e.g. {"dhcp": True, "security_groups": True, "nat": True}.
    capabilities: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeRef(Payload):
    """-> volume.delete_volume: the volume and where its data is on the backend."""

    KIND = "volume_ref"
    SINCE = "1.11"
    volume_id: str
    backend: str
    size: int
    provider_location: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class VolumeCreate(Payload):
    """-> volume.create_volume: make `size` GiB of data for the volume, empty, from the
    image (its ImageSpec dict with download_url and transfer_token) or from a snapshot's
    data (its provider_location on the same backend)."""

    KIND = "volume_create"
    SINCE = "1.11"
    volume_id: str
    backend: str
    size: int
    image: dict[str, Any] | None = None
    snapshot_id: str = ""
    snapshot_location: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class VolumeExtend(Payload):
    """-> volume.extend_volume: grow the volume's data to new_size GiB."""

    KIND = "volume_extend"
    SINCE = "1.11"
    volume_id: str
    backend: str
    provider_location: str
    new_size: int
    request_id: str = ""


@dataclass(frozen=True)
class VolumeSnapshotRequest(Payload):
    """-> volume.create_snapshot / volume.delete_snapshot."""

    KIND = "volume_snapshot_request"
    SINCE = "1.11"
    snapshot_id: str
    volume_id: str
    backend: str
    volume_location: str = ""
    snapshot_location: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class ConnectionRequest(Payload):
    """-> volume.initialize_connection / volume.terminate_connection: the attachment of
    the volume to an instance on compute host `host`."""

    KIND = "connection_request"
    SINCE = "1.11"
    attachment_id: str
    volume_id: str
    backend: str
    host: str
    provider_location: str
    instance_uuid: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class VolumeResult(Payload):
    """volume worker -> conductor.volume_created, _deleted, _extended,
    _snapshot_created, _snapshot_deleted: what the backend did (error empty) or why it
    could not (error: a sentence a person can act on)."""

    KIND = "volume_result"
    SINCE = "1.11"
    volume_id: str
    backend: str
    snapshot_id: str = ""
    provider_location: str = ""
    size: int | None = None
    error: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class VolumeConnection(Payload):
    """volume worker -> conductor.volume_connection_ready / _terminated: how the
    compute host reaches the volume for this attachment, one of
    {"driver_volume_type": "file", "path", "format"} or
    {"driver_volume_type": "nbd", "host", "port", "export_name", "format"};
    empty when terminated, or when it failed (then `error` says why)."""

    KIND = "volume_connection"
    SINCE = "1.11"
    attachment_id: str
    volume_id: str
    host: str
    connection: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class VolumeBackendReport(Payload):
    """volume worker -> conductor.volume_backend_heartbeat: the backend is alive, its
    capacity, and what it speaks."""

    KIND = "volume_backend_report"
    SINCE = "1.11"
    backend: str
    host: str
    driver: str
    total_capacity_gb: float
    free_capacity_gb: float
    payload_version: str = PAYLOAD_VERSION
    started_at: str = ""
    sent_at: str = ""


# -- volumes on the compute hosts (1.12) ------------------------------------------


@dataclass(frozen=True)
class BlockDevice(Payload):
    """A volume as a guest's disk: which one, through which attachment, where the
    volume worker exports it (`connection`: {"driver_volume_type": "file", "path",
    "format"} or {"driver_volume_type": "nbd", "host", "port", "export_name",
    "format"}), and the target it takes ("vdb"; empty: the next free one)."""

    KIND = "block_device"
    SINCE = "1.12"
    volume_id: str
    attachment_id: str
    connection: dict[str, Any]
    device: str = ""
    # 0: the guest's root disk (boot from volume); None: a data disk.
    boot_index: int | None = None


@dataclass(frozen=True)
class AttachVolumeRequest(Payload):
    """conductor -> compute.attach_volume: connect a volume to a guest of this host (a
    running QEMU guest gets it hot-plugged; its definition keeps it either way)."""

    KIND = "attach_volume_request"
    SINCE = "1.12"
    instance_uuid: str
    request_id: str
    volume_id: str
    attachment_id: str
    connection: dict[str, Any]
    # The target the api answered with ("/dev/vdb"); empty: the next free one.
    device: str = ""

    @property
    def block_device(self) -> BlockDevice:
        return BlockDevice(
            volume_id=self.volume_id,
            attachment_id=self.attachment_id,
            connection=self.connection,
            device=self.device,
        )


@dataclass(frozen=True)
class DetachVolumeRequest(Payload):
    """conductor -> compute.detach_volume: take the volume's disk out of the guest."""

    KIND = "detach_volume_request"
    SINCE = "1.12"
    instance_uuid: str
    request_id: str
    volume_id: str
    attachment_id: str


@dataclass(frozen=True)
class VolumeAttached(Payload):
    """compute -> conductor.volume_attached / conductor.volume_attach_failed"""

    KIND = "volume_attached"
    SINCE = "1.12"
    instance_uuid: str
    host: str
    request_id: str
    volume_id: str
    attachment_id: str
    # The target the guest has it on ("/dev/vdb"), when attached.
    device: str = ""
    message: str = ""
    details: str = ""


@dataclass(frozen=True)
class VolumeDetached(Payload):
    """compute -> conductor.volume_detached / conductor.volume_detach_failed"""

    KIND = "volume_detached"
    SINCE = "1.12"
    instance_uuid: str
    host: str
    request_id: str
    volume_id: str
    attachment_id: str
    message: str = ""
    details: str = ""
