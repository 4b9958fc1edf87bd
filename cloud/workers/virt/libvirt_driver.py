"""The libvirt driver: any libvirt URI, `test:///...` by default, `qemu:///system` for real guests.

The connection is opened after the worker process starts (never inherited
across fork) and reopened if libvirt drops it. libvirt connections are
thread-safe, so the heartbeat thread and the task thread share one.
"""

import logging
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt

from cloud.payloads import InstanceSpec
from cloud.power_state import STATE_NAMES, PowerState
from cloud.workers.virt.domain_xml import (
    DomainOptions,
    build_domain_xml,
    disk_path,
    instance_dir,
)
from cloud.workers.virt.driver import (
    ComputeDriver,
    HostResources,
    HypervisorError,
    InstanceInfo,
)

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

    def __init__(self, uri: str, instances_path, disk_gb: int | None = None) -> None:
        self.uri = uri
        self.disk_gb = disk_gb
        self.options = DomainOptions(
            domain_type=self._domain_type(uri), instances_path=instances_path
        )
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()
        self._host: str | None = None

    @property
    def capabilities(self) -> dict[str, bool]:  # type: ignore[override]
        # libvirt's test hypervisor keeps no console log (no character devices).
        return {
            "supports_diagnostics": True,
            "supports_console_output": self.options.domain_type != "test",
            # Nor any disk: its guests are definitions only.
            "supports_snapshot": self.options.domain_type != "test",
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
                except libvirt.libvirtError as exc:
                    raise HypervisorError(f"cannot connect to {self.uri}: {exc}") from exc
            return self._conn

    def init_host(self, host: str) -> None:
        self._host = host
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
        """The guest's directory and root disk (an empty qcow2 of the flavor's size), and a
        check that a kernel-boot image's parts are on this host. The test hypervisor
        reads no files, so it gets none."""
        if self.options.domain_type == "test":
            return
        image = instance.image_spec
        for part in (image.kernel_file, image.ramdisk_file):
            if part and not Path(part).is_file():
                raise HypervisorError(f"image {image.name}: {part} is not on this host")
        instance_dir(self.options, instance.uuid).mkdir(parents=True, exist_ok=True)
        disk = disk_path(self.options, instance.uuid)
        if disk.exists():
            return
        size_gb = max(instance.flavor_spec.root_gb, 1)
        try:
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(disk), f"{size_gb}G"],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise HypervisorError(f"cannot create the disk of {instance.name}: {detail}") from exc

    def spawn(self, instance: InstanceSpec) -> InstanceInfo:
        try:
            domain = self._lookup(instance.uuid)
            if domain is None:
                self._prepare_files(instance)
                xml = build_domain_xml(instance, self.options)
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
        tree = ET.fromstring(domain.XMLDesc(0))
        disks = [t.get("dev") for t in tree.findall("./devices/disk/target")]
        nics = tree.findall("./devices/interface")
        disk_details = []
        for dev in disks:
            try:
                rd_req, rd_bytes, wr_req, wr_bytes, errs = domain.blockStats(dev)
            except libvirt.libvirtError:
                rd_req = rd_bytes = wr_req = wr_bytes = errs = 0
            disk_details.append(
                {
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
            "config_drive": False,
            "num_cpus": info.num_cpus,
            "num_nics": len(nics),
            "num_disks": len(disks),
            "memory_details": {
                "maximum": info.max_memory_kb // 1024,
                "used": info.memory_kb // 1024,
            },
            "cpu_details": [{"id": None, "time": info.cpu_time_ns, "utilisation": None}],
            "disk_details": disk_details,
            "nic_details": [],
        }

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
        try:
            tree = ET.fromstring(domain.XMLDesc(0))
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not describe {instance_uuid}: {exc}") from exc
        log_file = next(
            (e.get("file") for e in tree.findall("./devices/serial/log") if e.get("file")), None
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

    # -- resize -------------------------------------------------------------
    @staticmethod
    def _sized(domain: libvirt.virDomain, instance: InstanceSpec) -> bool:
        _, max_memory_kb, _, vcpus, _ = domain.info()
        flavor = instance.flavor_spec
        return max_memory_kb == flavor.memory_mb * 1024 and vcpus == flavor.vcpus

    def finish_migration(self, instance: InstanceSpec, *, power_on: bool) -> InstanceInfo:
        # The root disk is not copied between hosts: a guest moved to another host
        # starts from a fresh disk of the new flavor's size (kernel-boot images and
        # the test hypervisor need nothing more).
        try:
            domain = self._lookup(instance.uuid)
            if domain is not None and domain.isActive():
                if self._sized(domain, instance):
                    return self._info(domain)
                domain.destroy()
            self._prepare_files(instance)
            domain = self._connection().defineXML(build_domain_xml(instance, self.options))
            if power_on and not domain.isActive():
                domain.create()
            return self._info(domain)
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"libvirt could not define {instance.name} with flavor "
                f"{instance.flavor_spec.name}: {exc}"
            ) from exc

    # -- snapshots ----------------------------------------------------------
    def snapshot(self, instance_uuid: str, target: Path, disk_format: str) -> None:
        """Nova's cold snapshot: a running guest is saved (its memory to disk, QEMU lets
        go of the root disk), the disk converted, and the guest restored as it was."""
        domain = self._require(instance_uuid)
        disk = disk_path(self.options, instance_uuid)
        try:
            was_active = domain.isActive()
            if was_active:
                domain.managedSave(0)
            try:
                subprocess.run(
                    ["qemu-img", "convert", "-q", "-O", disk_format, str(disk), str(target)],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=3600,
                )
            finally:
                if was_active:
                    domain.create()  # restores the managed save image
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt could not snapshot {instance_uuid}: {exc}") from exc
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise HypervisorError(f"cannot copy the disk of {instance_uuid}: {detail}") from exc
