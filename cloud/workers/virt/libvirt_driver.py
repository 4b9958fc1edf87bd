"""The libvirt driver: any libvirt URI, `test:///...` by default, `qemu:///system` for real guests.

The connection is opened after the worker process starts (never inherited
across fork) and reopened if libvirt drops it. libvirt connections are
thread-safe, so the heartbeat thread and the task thread share one.

Guests' disk files are real on every hypervisor (cloud.workers.virt.disks): on
the test hypervisor they exist and the domain names them, on QEMU the guest
reads them. Base images come from the host's image cache
(cloud.workers.virt.imagecache).
"""

import logging
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt

from cloud.payloads import BlockDevice, ImageSpec, InstanceSpec, VifSpec
from cloud.power_state import STATE_NAMES, PowerState
from cloud.workers.virt import consoles, disks, interfaces, volumes
from cloud.workers.virt.domain_xml import (
    DomainOptions,
    VolumeDiskError,
    build_domain_xml,
    console_log_path,
    disk_path,
    instance_dir,
)
from cloud.workers.virt.driver import (
    ComputeDriver,
    HostResources,
    HypervisorError,
    InstanceInfo,
)
from cloud.workers.virt.imagecache import ImageCache, ImageFetchError, qemu_img, upload_file

log = logging.getLogger(__name__)

# libvirt virDomainState -> Nova power state
_POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}


def _quiet_libvirt_errors(_ctx: Any, _err: Any) -> None:
    """libvirt prints every error to stderr by default; we raise and log instead."""


libvirt.registerErrorHandler(_quiet_libvirt_errors, None)


class LibvirtDriver(ComputeDriver):
    # Nova's defaults: how long a guest gets to shut down cleanly before its
    # power is cut, and the most console log one answer carries.
    SHUTDOWN_TIMEOUT = 60.0
    MAX_CONSOLE_BYTES = 100 * 1024
    # How long a running guest gets to let go of a volume's disk (Nova waits about as
    # long, in retries); past it the detach fails and the volume stays attached.
    VOLUME_DETACH_TIMEOUT = 30.0

    def __init__(
        self,
        uri: str,
        instances_path,
        disk_gb: int | None = None,
        *,
        console_address: str = "127.0.0.1",
        serial_ports: range = range(10000, 20000),
    ) -> None:
        self.uri = uri
        self.disk_gb = disk_gb
        self.options = DomainOptions(
            domain_type=self._domain_type(uri),
            instances_path=instances_path,
            console_address=console_address,
        )
        self.image_cache = ImageCache(Path(instances_path))
        self.serial_ports = serial_ports
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()
        self._host: str | None = None
        # The test hypervisor's guests have no serial line: once the host starts, the
        # driver logs their lifecycle instead (cloud.workers.virt.consoles).
        self._simulated_console: consoles.SimulatedConsole | None = None

    @property
    def capabilities(self) -> dict[str, bool]:  # type: ignore[override]
        return {
            "supports_diagnostics": True,
            # QEMU's serial log, or the test hypervisor's simulated one.
            "supports_console_output": True,
            # VNC, SPICE and serial consoles: only where a guest really runs.
            "supports_remote_consoles": self.options.domain_type != "test",
            # The guests' disk files are real on both.
            "supports_snapshot": True,
            # The test hypervisor cannot attach devices: only definitions change there.
            "supports_volume_hotplug": self.options.domain_type != "test",
        }

    @staticmethod
    def _domain_type(uri: str) -> str:
        if uri.startswith("test:"):
            return "test"
        return "qemu"

    def _connection(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is None or not self._conn.isAlive():
                try:
                    self._conn = libvirt.open(self.uri)
                    if self._simulated_console is not None:
                        self._simulated_console.register(self._conn)
                except libvirt.libvirtError as exc:
                    raise HypervisorError(f"cannot connect to {self.uri}: {exc}") from exc
            return self._conn

    def init_host(self, host: str) -> None:
        self._host = host
        if self.options.domain_type == "test" and self._simulated_console is None:
            consoles.start_event_loop()
            self._simulated_console = consoles.SimulatedConsole(
                lambda uuid: console_log_path(self.options, uuid)
            )
            with self._lock:
                self._conn = None  # reopened with the event loop, so events reach it
        conn = self._connection()
        log.info("compute %s connected to %s (%s)", host, self.uri, conn.getType())

    def host_resources(self) -> HostResources:
        conn = self._connection()
        arch, memory_mb, cpus, mhz, *_ = conn.getInfo()
        disk_gb = self.disk_gb
        if disk_gb is None:
            disk_gb = self._storage_gb(conn)
        return HostResources(
            hypervisor_type=conn.getType(),
            hypervisor_version=conn.getVersion(),
            hypervisor_hostname=self._node_name(conn),
            vcpus=cpus,
            memory_mb=memory_mb,
            local_gb=disk_gb,
            cpu_info={"arch": arch, "mhz": mhz},
        )

    def _node_name(self, conn: libvirt.virConnect) -> str:
        """The machine's hostname; on the test hypervisor, where several simulated hosts share
        one machine, the compute host's own name, so that every node is told apart."""
        if self.options.domain_type == "test" and self._host:
            return self._host
        return conn.getHostname()

    def _storage_gb(self, conn: libvirt.virConnect) -> int:
        """Capacity of the host's storage pools, when the operator did not state it."""
        total = 0
        try:
            for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
                total += pool.info()[1]
        except libvirt.libvirtError:
            return 0
        return total // (1024**3)

    def _lookup(self, instance_uuid: str) -> libvirt.virDomain | None:
        try:
            return self._connection().lookupByUUIDString(instance_uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise HypervisorError(str(exc)) from exc

    def _info(self, domain: libvirt.virDomain) -> InstanceInfo:
        state, max_mem, mem, ncpu, cpu_time = domain.info()
        return InstanceInfo(
            uuid=domain.UUIDString(),
            name=domain.name(),
            power_state=_POWER_STATES.get(state, PowerState.NOSTATE),
            max_memory_kb=max_mem,
            memory_kb=mem,
            num_cpus=ncpu,
            cpu_time_ns=cpu_time,
        )

    def _prepare_files(self, instance: InstanceSpec) -> None:
        """The guest's directory and disks (its root disk backed by the cached image), and
        a check that a kernel-boot image's parts are on this host (the test hypervisor
        boots nothing, so it needs none)."""
        image = instance.image_spec
        if self.options.domain_type != "test":
            for part in (image.kernel_file, image.ramdisk_file):
                if part and not Path(part).is_file():
                    raise HypervisorError(f"image {image.name}: {part} is not on this host")
        disks.create_guest_disks(self.options, instance, self.image_cache)

    def spawn(self, instance: InstanceSpec) -> InstanceInfo:
        try:
            domain = self._lookup(instance.uuid)
            if domain is None:
                self._prepare_files(instance)
                xml = build_domain_xml(
                    instance, self.options, serial_port=self._serial_port(instance.uuid)
                )
                domain = self._connection().defineXML(xml)
            if not domain.isActive():
                domain.create()
            return self._info(domain)
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not start {instance.name}: {exc}") from exc

    def destroy(self, instance_uuid: str) -> bool:
        domain = self._lookup(instance_uuid)
        if domain is None:
            # A build that failed before libvirt knew the guest may have left files.
            shutil.rmtree(instance_dir(self.options, instance_uuid), ignore_errors=True)
            return False
        try:
            if domain.isActive():
                domain.destroy()
            domain.undefineFlags(
                libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            )
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False
            raise HypervisorError(f"libvirt could not destroy {instance_uuid}: {exc}") from exc
        shutil.rmtree(instance_dir(self.options, instance_uuid), ignore_errors=True)
        return True

    def get_info(self, instance_uuid: str) -> InstanceInfo | None:
        domain = self._lookup(instance_uuid)
        return self._info(domain) if domain is not None else None

    def list_instance_uuids(self) -> list[str]:
        try:
            return [d.UUIDString() for d in self._connection().listAllDomains()]
        except libvirt.libvirtError as exc:
            raise HypervisorError(str(exc)) from exc

    def power_states(self) -> dict[str, int]:
        try:
            return {
                d.UUIDString(): _POWER_STATES.get(d.state()[0], PowerState.NOSTATE)
                for d in self._connection().listAllDomains()
            }
        except libvirt.libvirtError as exc:
            raise HypervisorError(str(exc)) from exc

    def get_diagnostics(self, instance_uuid: str) -> dict[str, Any] | None:
        domain = self._lookup(instance_uuid)
        if domain is None:
            return None
        info = self._info(domain)
        tree = ET.fromstring(self._disks_xml(domain))
        devices = [
            (d.find("target"), d.find("source"), d.find("driver"))
            for d in tree.findall("./devices/disk")
        ]
        targets = [t.get("dev") for t, _, _ in devices if t is not None]
        nics = tree.findall("./devices/interface")
        disk_details = []
        for target, source, driver in devices:
            dev = target.get("dev") if target is not None else None
            try:
                rd_req, rd_bytes, wr_req, wr_bytes, errs = domain.blockStats(dev)
            except libvirt.libvirtError:
                rd_req = rd_bytes = wr_req = wr_bytes = errs = 0
            files = {}
            if source is not None and source.get("file"):
                fmt = driver.get("type", "raw") if driver is not None else "raw"
                files = disks.disk_details(Path(source.get("file")), fmt)
            disk_details.append(
                {
                    "device": dev,
                    **files,
                    "read_bytes": rd_bytes,
                    "read_requests": rd_req,
                    "write_bytes": wr_bytes,
                    "write_requests": wr_req,
                    "errors_count": errs,
                }
            )
        return {
            "state": STATE_NAMES.get(info.power_state, STATE_NAMES[PowerState.NOSTATE]),
            "driver": "libvirt",
            "hypervisor": self._connection().getType().lower(),
            "hypervisor_os": "linux",
            "uptime": None,
            "config_drive": any(
                s is not None and str(s.get("file", "")).endswith("/disk.config")
                for _, s, _ in devices
            ),
            "num_cpus": info.num_cpus,
            "num_nics": len(nics),
            "num_disks": len(targets),
            "memory_details": {
                "maximum": info.max_memory_kb // 1024,
                "used": info.memory_kb // 1024,
            },
            "cpu_details": [{"id": None, "time": info.cpu_time_ns, "utilisation": None}],
            "disk_details": disk_details,
            "nic_details": [self._nic_details(domain, nic) for nic in nics],
        }

    @staticmethod
    def _nic_details(domain: libvirt.virDomain, nic: ET.Element) -> dict[str, Any]:
        """One interface in Nova's diagnostics shape: its MAC and its counters."""
        mac, target = nic.find("mac"), nic.find("target")
        try:
            rx_b, rx_p, rx_e, rx_d, tx_b, tx_p, tx_e, tx_d = domain.interfaceStats(
                target.get("dev") if target is not None else ""
            )
        except libvirt.libvirtError:
            rx_b = rx_p = rx_e = rx_d = tx_b = tx_p = tx_e = tx_d = 0
        return {
            "mac_address": mac.get("address") if mac is not None else None,
            "rx_octets": rx_b, "rx_errors": rx_e, "rx_drop": rx_d, "rx_packets": rx_p,
            "rx_rate": None,
            "tx_octets": tx_b, "tx_errors": tx_e, "tx_drop": tx_d, "tx_packets": tx_p,
            "tx_rate": None,
        }  # fmt: skip

    def _disks_xml(self, domain: libvirt.virDomain) -> str:
        """The definition that names the guest's disks: the live one where a guest runs,
        the persistent one on the test hypervisor (its volumes are only there)."""
        if self.options.domain_type == "test":
            return domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        return domain.XMLDesc(0)

    # -- lifecycle actions ------------------------------------------------
    def _require(self, instance_uuid: str) -> libvirt.virDomain:
        domain = self._lookup(instance_uuid)
        if domain is None:
            raise HypervisorError(f"instance {instance_uuid} is not on this host")
        return domain

    def _act(
        self, instance_uuid: str, verb: str, operate: Callable[[libvirt.virDomain], None]
    ) -> InstanceInfo:
        """Run `operate(domain)` and report the guest's state; libvirt errors become
        HypervisorError naming what failed."""
        domain = self._require(instance_uuid)
        try:
            operate(domain)
            return self._info(domain)
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not {verb} {instance_uuid}: {exc}") from exc

    @staticmethod
    def _running(domain: libvirt.virDomain, verb: str) -> int:
        """The libvirt state of a guest that is on (running or paused); else HypervisorError."""
        state = domain.state()[0]
        if state not in (
            libvirt.VIR_DOMAIN_RUNNING,
            libvirt.VIR_DOMAIN_BLOCKED,
            libvirt.VIR_DOMAIN_PAUSED,
        ):
            raise HypervisorError(f"cannot {verb} {domain.UUIDString()}: it is not running")
        return state

    def reboot(self, instance_uuid: str, *, hard: bool) -> InstanceInfo:
        def soft_reboot(domain: libvirt.virDomain) -> None:
            if self._running(domain, "soft-reboot") == libvirt.VIR_DOMAIN_PAUSED:
                raise HypervisorError(f"cannot soft-reboot {instance_uuid}: it is paused")
            domain.reboot(libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)
            if self._simulated_console is not None:
                # libvirt reports no event for a reboot that keeps the guest running.
                self._simulated_console.note(instance_uuid, domain.name(), "rebooted (soft)")

        def hard_reboot(domain: libvirt.virDomain) -> None:
            if domain.isActive():
                domain.destroy()
            if domain.hasManagedSaveImage(0):
                domain.managedSaveRemove(0)
            domain.create()

        return self._act(instance_uuid, "reboot", hard_reboot if hard else soft_reboot)

    def power_off(self, instance_uuid: str) -> InstanceInfo:
        def stop(domain: libvirt.virDomain) -> None:
            if not domain.isActive():
                return
            domain.shutdown()
            deadline = time.monotonic() + self.SHUTDOWN_TIMEOUT
            while domain.isActive() and time.monotonic() < deadline:
                time.sleep(0.5)
            if domain.isActive():
                log.warning("%s ignored the shutdown request; cutting power", instance_uuid)
                domain.destroy()

        return self._act(instance_uuid, "power off", stop)

    def power_on(self, instance_uuid: str) -> InstanceInfo:
        def start(domain: libvirt.virDomain) -> None:
            if not domain.isActive():
                domain.create()

        return self._act(instance_uuid, "power on", start)

    def pause(self, instance_uuid: str) -> InstanceInfo:
        def pause(domain: libvirt.virDomain) -> None:
            if self._running(domain, "pause") != libvirt.VIR_DOMAIN_PAUSED:
                domain.suspend()

        return self._act(instance_uuid, "pause", pause)

    def unpause(self, instance_uuid: str) -> InstanceInfo:
        def unpause(domain: libvirt.virDomain) -> None:
            if self._running(domain, "unpause") == libvirt.VIR_DOMAIN_PAUSED:
                domain.resume()

        return self._act(instance_uuid, "unpause", unpause)

    def suspend(self, instance_uuid: str) -> InstanceInfo:
        def save(domain: libvirt.virDomain) -> None:
            if domain.isActive():
                domain.managedSave(0)
            elif not domain.hasManagedSaveImage(0):
                raise HypervisorError(f"cannot suspend {instance_uuid}: it is not running")

        return self._act(instance_uuid, "suspend", save)

    def resume(self, instance_uuid: str) -> InstanceInfo:
        def restore(domain: libvirt.virDomain) -> None:
            if domain.isActive():
                return
            if not domain.hasManagedSaveImage(0):
                raise HypervisorError(f"cannot resume {instance_uuid}: it has no saved state")
            domain.create()  # libvirt restores the managed save image

        return self._act(instance_uuid, "resume", restore)

    def get_console_output(self, instance_uuid: str, length: int | None) -> str:
        domain = self._require(instance_uuid)
        if self.options.domain_type == "test":
            log_file: str | None = str(console_log_path(self.options, instance_uuid))
        else:
            try:
                tree = ET.fromstring(domain.XMLDesc(0))
            except libvirt.libvirtError as exc:
                raise HypervisorError(f"libvirt could not describe {instance_uuid}: {exc}") from exc
            log_file = next(
                (e.get("file") for e in tree.findall("./devices/serial/log") if e.get("file")),
                None,
            )
        if log_file is None:
            raise HypervisorError(f"instance {instance_uuid} has no console log")
        try:
            with Path(log_file).open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - self.MAX_CONSOLE_BYTES))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError as exc:
            raise HypervisorError(f"cannot read the console log of {instance_uuid}: {exc}") from exc
        if length is None:
            return text
        return "".join(text.splitlines(keepends=True)[-length:]) if length > 0 else ""

    # -- remote consoles -----------------------------------------------------
    def console_endpoints(self, instance_uuid: str) -> dict[str, dict[str, Any]]:
        if self.options.domain_type == "test":
            return {}
        domain = self._lookup(instance_uuid)
        try:
            if domain is None or not domain.isActive():
                return {}
            return consoles.endpoints_of(domain.XMLDesc(0))
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not describe {instance_uuid}: {exc}") from exc

    def _serial_port(self, instance_uuid: str) -> int | None:
        """The serial console's TCP port: the one the guest's definition already has (a
        redefinition keeps it), else a free one of the range that no other guest of this
        host was given. None on the test hypervisor, or when the range is used up (the
        guest then gets a pty: a log, but no serial console to connect to)."""
        if self.options.domain_type == "test":
            return None
        taken = []
        try:
            for domain in self._connection().listAllDomains():
                port = consoles.serial_port_of(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                if port is None:
                    continue
                if domain.UUIDString() == instance_uuid:
                    return port
                taken.append(port)
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not list the guests: {exc}") from exc
        port = consoles.free_serial_port(self.options.console_address, self.serial_ports, taken)
        if port is None:
            log.warning("no free serial console port in %s", self.serial_ports)
        return port

    # -- interfaces ---------------------------------------------------------
    def attach_interface(self, instance_uuid: str, vif: VifSpec) -> bool:
        return interfaces.attach(self._connection(), self._require(instance_uuid), vif)

    def detach_interface(self, instance_uuid: str, vif: VifSpec) -> bool:
        return interfaces.detach(self._connection(), self._require(instance_uuid), vif)

    # -- resize -------------------------------------------------------------
    @staticmethod
    def _sized(domain: libvirt.virDomain, instance: InstanceSpec) -> bool:
        _, max_memory_kb, _, vcpus, _ = domain.info()
        flavor = instance.flavor_spec
        return max_memory_kb == flavor.memory_mb * 1024 and vcpus == flavor.vcpus

    def finish_migration(
        self, instance: InstanceSpec, *, power_on: bool, disk_image: ImageSpec | None = None
    ) -> InstanceInfo:
        # The root disk moves with the guest: on a move from another host it is the
        # flattened copy the source uploaded (`disk_image`); on the same host (or a
        # revert) it is the one already here, grown to the flavor's size.
        try:
            domain = self._lookup(instance.uuid)
            if domain is not None and domain.isActive():
                if self._sized(domain, instance):
                    return self._info(domain)
                domain.destroy()
            if disk_image is not None:
                disks.place_root_disk(self.options, instance, disk_image, self.image_cache)
            else:
                disks.grow_root_disk(self.options, instance)
            self._prepare_files(instance)
            xml = build_domain_xml(
                instance, self.options, serial_port=self._serial_port(instance.uuid)
            )
            domain = self._connection().defineXML(xml)
            if power_on and not domain.isActive():
                domain.create()
            return self._info(domain)
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"libvirt could not define {instance.name} with flavor "
                f"{instance.flavor_spec.name}: {exc}"
            ) from exc

    def upload_root_disk(self, instance_uuid: str, *, url: str, token: str) -> None:
        """A flattened qcow2 copy of the (stopped) guest's root disk, PUT to the image API."""
        copy = instance_dir(self.options, instance_uuid) / ".disk.move.qcow2"
        try:
            disks.flatten_root_disk(self.options, instance_uuid, copy)
            upload_file(copy, url=url, token=token, what=f"the root disk of {instance_uuid}")
        except ImageFetchError as exc:
            raise HypervisorError(str(exc)) from exc
        finally:
            copy.unlink(missing_ok=True)

    # -- snapshots ----------------------------------------------------------
    def snapshot(self, instance_uuid: str, target: Path, disk_format: str) -> None:
        """Nova's cold snapshot: a running guest is saved (its memory to disk, QEMU lets
        go of the root disk), the disk converted (its backing chain merged: the copy
        stands alone), and the guest restored as it was."""
        domain = self._require(instance_uuid)
        disk = disk_path(self.options, instance_uuid)
        try:
            was_active = domain.isActive()
            if was_active:
                domain.managedSave(0)
            try:
                qemu_img("convert", "-q", "-O", disk_format, str(disk), str(target), timeout=3600)
            finally:
                if was_active:
                    domain.create()  # restores the managed save image
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not snapshot {instance_uuid}: {exc}") from exc
        except ImageFetchError as exc:
            raise HypervisorError(f"cannot copy the disk of {instance_uuid}: {exc}") from exc

    # -- volumes (cloud.workers.virt.volumes) ---------------------------------
    def attach_volume(self, instance_uuid: str, volume: BlockDevice) -> str:
        domain = self._require(instance_uuid)
        try:
            return volumes.attach(self._connection(), domain, volume, hotplug=self._hotplug)
        except VolumeDiskError as exc:
            raise HypervisorError(str(exc)) from exc
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"libvirt could not attach volume {volume.volume_id} to {instance_uuid}: {exc}"
            ) from exc

    def detach_volume(self, instance_uuid: str, volume_id: str) -> bool:
        domain = self._lookup(instance_uuid)
        if domain is None:
            return False
        try:
            return volumes.detach(
                self._connection(),
                domain,
                volume_id,
                hotplug=self._hotplug,
                timeout=self.VOLUME_DETACH_TIMEOUT,
            )
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"libvirt could not detach volume {volume_id} from {instance_uuid}: {exc}"
            ) from exc

    @property
    def _hotplug(self) -> bool:
        return self.options.domain_type != "test"

    # -- the image cache ------------------------------------------------------
    def cached_images(self) -> list[dict[str, Any]]:
        return self.image_cache.report(disks.bases_in_use(self.options.instances_path))

    def evict_images(self, max_age: float) -> list[str]:
        return self.image_cache.evict(
            lambda: disks.bases_in_use(self.options.instances_path), max_age
        )
