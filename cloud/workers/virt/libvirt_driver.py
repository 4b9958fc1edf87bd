"""The libvirt driver: any libvirt URI, `test:///...` by default, `qemu:///system` for real guests.

The connection is opened after the worker process starts (never inherited
across fork) and reopened if libvirt drops it. libvirt connections are
thread-safe, so the heartbeat thread and the task thread share one.
"""

import logging
import shutil
import threading
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from cloud.payloads import InstanceSpec
from cloud.workers.virt.domain_xml import DomainOptions, build_domain_xml
from cloud.workers.virt.driver import (
    ComputeDriver,
    HostResources,
    HypervisorError,
    InstanceInfo,
)

log = logging.getLogger(__name__)

# libvirt virDomainState -> Nova power state
_POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: 0,
    libvirt.VIR_DOMAIN_RUNNING: 1,
    libvirt.VIR_DOMAIN_BLOCKED: 1,
    libvirt.VIR_DOMAIN_PAUSED: 3,
    libvirt.VIR_DOMAIN_SHUTDOWN: 4,
    libvirt.VIR_DOMAIN_SHUTOFF: 4,
    libvirt.VIR_DOMAIN_CRASHED: 6,
    libvirt.VIR_DOMAIN_PMSUSPENDED: 7,
}
_STATE_NAMES = {
    0: "pending",
    1: "running",
    3: "paused",
    4: "shutdown",
    6: "crashed",
    7: "suspended",
}


def _quiet_libvirt_errors(_ctx: Any, _err: Any) -> None:
    """libvirt prints every error to stderr by default; we raise and log instead."""


libvirt.registerErrorHandler(_quiet_libvirt_errors, None)


class LibvirtDriver(ComputeDriver):
    capabilities = {"supports_diagnostics": True}

    def __init__(self, uri: str, instances_path, disk_gb: int | None = None) -> None:
        self.uri = uri
        self.disk_gb = disk_gb
        self.options = DomainOptions(
            domain_type=self._domain_type(uri), instances_path=instances_path
        )
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()
        self._host: str | None = None

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
            power_state=_POWER_STATES.get(state, 0),
            max_memory_kb=max_mem,
            memory_kb=mem,
            num_cpus=ncpu,
            cpu_time_ns=cpu_time,
        )

    def spawn(self, instance: InstanceSpec) -> InstanceInfo:
        try:
            domain = self._lookup(instance.uuid)
            if domain is None:
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
        shutil.rmtree(self.options.instances_path / instance_uuid, ignore_errors=True)
        return True

    def get_info(self, instance_uuid: str) -> InstanceInfo | None:
        domain = self._lookup(instance_uuid)
        return self._info(domain) if domain is not None else None

    def list_instance_uuids(self) -> list[str]:
        try:
            return [d.UUIDString() for d in self._connection().listAllDomains()]
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
            "state": _STATE_NAMES.get(info.power_state, "pending"),
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
