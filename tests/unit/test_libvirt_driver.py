"""LibvirtDriver against libvirt's in-process test hypervisor (`test:///default`)."""

import dataclasses
import uuid
from pathlib import Path

import libvirt
import pytest

from cloud.workers.virt.driver import HypervisorError, InstanceInfo
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import TEST_URI, domain_uuids, instance_spec

INSTANCES = Path("/srv/stratus/instances")

# Nova's server diagnostics, microversion 2.48.
NOVA_248_KEYS = {
    "state",
    "driver",
    "hypervisor",
    "hypervisor_os",
    "uptime",
    "config_drive",
    "num_cpus",
    "num_nics",
    "num_disks",
    "memory_details",
    "cpu_details",
    "disk_details",
    "nic_details",
}
NOVA_248_DISK_KEYS = {
    "read_bytes",
    "read_requests",
    "write_bytes",
    "write_requests",
    "errors_count",
}


@pytest.fixture
def driver() -> LibvirtDriver:
    return LibvirtDriver(TEST_URI, INSTANCES)


def _matching(conn: libvirt.virConnect, instance_uuid: str) -> list[str]:
    return [u for u in domain_uuids(conn) if u == instance_uuid]


def test_domain_type_follows_the_uri():
    assert LibvirtDriver(TEST_URI, INSTANCES).options.domain_type == "test"
    assert LibvirtDriver("qemu:///system", INSTANCES).options.domain_type == "qemu"
    assert LibvirtDriver("qemu:///system", INSTANCES).options.instances_path == INSTANCES


def test_spawn_starts_the_guest(driver, make_instance, libvirt_conn):
    spec = make_instance(memory_mb=1024, vcpus=2)

    info = driver.spawn(spec)

    assert info == InstanceInfo(
        uuid=spec.uuid,
        name=spec.name,
        power_state=1,
        max_memory_kb=1024 * 1024,
        memory_kb=1024 * 1024,
        num_cpus=2,
        cpu_time_ns=info.cpu_time_ns,
    )
    domain = libvirt_conn.lookupByUUIDString(spec.uuid)
    assert domain.isActive()
    assert domain.name() == spec.name


def test_spawn_is_idempotent(driver, make_instance, libvirt_conn):
    spec = make_instance()
    before = len(domain_uuids(libvirt_conn))

    first = driver.spawn(spec)
    second = driver.spawn(spec)

    assert _matching(libvirt_conn, spec.uuid) == [spec.uuid]
    assert len(domain_uuids(libvirt_conn)) == before + 1
    assert first.power_state == second.power_state == 1
    assert libvirt_conn.lookupByUUIDString(spec.uuid).isActive()


def test_spawn_starts_a_guest_that_is_defined_but_stopped(driver, make_instance, libvirt_conn):
    spec = make_instance()
    driver.spawn(spec)
    libvirt_conn.lookupByUUIDString(spec.uuid).destroy()  # power off, keep the definition
    assert driver.get_info(spec.uuid).power_state == 4

    info = driver.spawn(spec)

    assert info.power_state == 1
    assert _matching(libvirt_conn, spec.uuid) == [spec.uuid]


def test_spawn_failure_is_a_hypervisor_error(driver, make_instance, libvirt_conn):
    spec = make_instance(memory_mb=0)

    with pytest.raises(HypervisorError, match=spec.name):
        driver.spawn(spec)
    assert _matching(libvirt_conn, spec.uuid) == []


def test_destroy_true_then_false(driver, make_instance, libvirt_conn):
    spec = make_instance()
    driver.spawn(spec)

    assert driver.destroy(spec.uuid) is True
    assert _matching(libvirt_conn, spec.uuid) == []
    assert driver.destroy(spec.uuid) is False


def test_destroy_removes_a_stopped_guest(driver, make_instance, libvirt_conn):
    spec = make_instance()
    driver.spawn(spec)
    libvirt_conn.lookupByUUIDString(spec.uuid).destroy()

    assert driver.destroy(spec.uuid) is True
    assert _matching(libvirt_conn, spec.uuid) == []


def test_destroy_of_a_never_seen_uuid_is_false(driver):
    assert driver.destroy(str(uuid.uuid4())) is False


def test_get_info(driver, make_instance):
    spec = make_instance(memory_mb=256, vcpus=1)
    driver.spawn(spec)

    info = driver.get_info(spec.uuid)

    assert (info.uuid, info.name, info.power_state) == (spec.uuid, spec.name, 1)
    assert (info.max_memory_kb, info.num_cpus) == (256 * 1024, 1)


def test_get_info_is_none_after_destroy(driver, make_instance):
    spec = make_instance()
    driver.spawn(spec)
    driver.destroy(spec.uuid)

    assert driver.get_info(spec.uuid) is None


def test_get_info_of_a_malformed_uuid_is_a_hypervisor_error(driver):
    with pytest.raises(HypervisorError):
        driver.get_info("not-a-uuid")


def test_list_instance_uuids(driver, make_instance, libvirt_conn):
    a, b = make_instance(), make_instance()
    driver.spawn(a)
    driver.spawn(b)

    listed = driver.list_instance_uuids()

    assert {a.uuid, b.uuid} <= set(listed)
    assert sorted(listed) == sorted(domain_uuids(libvirt_conn))

    driver.destroy(a.uuid)
    listed = driver.list_instance_uuids()
    assert a.uuid not in listed
    assert b.uuid in listed


def test_host_resources_come_from_libvirt(libvirt_conn):
    arch, memory_mb, cpus, mhz, *_ = libvirt_conn.getInfo()
    pool_bytes = sum(
        pool.info()[1]
        for pool in libvirt_conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
    )

    res = LibvirtDriver(TEST_URI, INSTANCES).host_resources()

    assert res.vcpus == cpus
    assert res.memory_mb == memory_mb
    assert res.local_gb == pool_bytes // 1024**3
    assert res.local_gb > 0
    assert res.hypervisor_type == libvirt_conn.getType()
    assert res.hypervisor_version == libvirt_conn.getVersion()
    assert res.hypervisor_hostname == libvirt_conn.getHostname()
    assert res.cpu_info == {"arch": arch, "mhz": mhz}


def test_host_resources_honour_the_disk_override(libvirt_conn):
    res = LibvirtDriver(TEST_URI, INSTANCES, disk_gb=4321).host_resources()

    assert res.local_gb == 4321
    assert res.vcpus == libvirt_conn.getInfo()[2]


def test_host_resources_disk_override_of_zero_is_honoured():
    assert LibvirtDriver(TEST_URI, INSTANCES, disk_gb=0).host_resources().local_gb == 0


def test_unreachable_hypervisor_is_a_hypervisor_error():
    driver = LibvirtDriver("test:///nonexistent/file.xml", INSTANCES)
    with pytest.raises(HypervisorError, match="cannot connect to test:///nonexistent/file.xml"):
        driver.host_resources()


def test_get_diagnostics_shape(driver, make_instance):
    spec = make_instance(memory_mb=512, vcpus=2)
    driver.spawn(spec)

    diag = driver.get_diagnostics(spec.uuid)

    assert set(diag) == NOVA_248_KEYS
    assert diag["state"] == "running"
    assert diag["driver"] == "libvirt"
    assert diag["hypervisor"] == "test"
    assert diag["hypervisor_os"] == "linux"
    assert diag["config_drive"] is False
    assert diag["num_cpus"] == 2
    assert diag["num_nics"] == 0
    assert diag["num_disks"] == 1
    assert diag["memory_details"] == {"maximum": 512, "used": 512}
    assert len(diag["cpu_details"]) >= 1
    for cpu in diag["cpu_details"]:
        assert set(cpu) == {"id", "time", "utilisation"}
    assert len(diag["disk_details"]) == diag["num_disks"]
    for disk in diag["disk_details"]:
        assert set(disk) == NOVA_248_DISK_KEYS
        assert all(isinstance(v, int) for v in disk.values())
    assert diag["nic_details"] == []


def test_get_diagnostics_of_a_stopped_guest(driver, make_instance, libvirt_conn):
    spec = make_instance()
    driver.spawn(spec)
    libvirt_conn.lookupByUUIDString(spec.uuid).destroy()

    assert driver.get_diagnostics(spec.uuid)["state"] == "shutdown"


def test_get_diagnostics_of_an_unknown_guest_is_none(driver):
    assert driver.get_diagnostics(str(uuid.uuid4())) is None


def test_driver_declares_diagnostics_support(driver):
    assert driver.capabilities["supports_diagnostics"] is True


def test_console_output_is_declared_on_qemu_only():
    # The test hypervisor runs no guest and keeps no console log: it says so.
    assert LibvirtDriver(TEST_URI, INSTANCES).capabilities["supports_console_output"] is False
    assert LibvirtDriver("qemu:///system", INSTANCES).capabilities["supports_console_output"]


def test_spawn_on_qemu_refuses_a_kernel_this_host_lacks(tmp_path):
    spec = instance_spec()
    spec = dataclasses.replace(spec, image={**spec.image, "kernel_file": str(tmp_path / "no")})
    driver = LibvirtDriver("qemu:///system", tmp_path)
    with pytest.raises(HypervisorError, match="is not on this host"):
        driver._prepare_files(spec)
    assert not (tmp_path / spec.uuid).exists()


def test_destroy_of_an_unknown_guest_removes_leftover_files(driver, tmp_path):
    driver = LibvirtDriver(TEST_URI, tmp_path)
    leftover = tmp_path / str(uuid.uuid4())
    leftover.mkdir()
    (leftover / "disk").write_bytes(b"")
    assert driver.destroy(leftover.name) is False
    assert not leftover.exists()


def test_simulated_hosts_on_one_machine_are_told_apart_by_host_name():
    first, second = LibvirtDriver(TEST_URI, INSTANCES), LibvirtDriver(TEST_URI, INSTANCES)
    first.init_host("sim-1")
    second.init_host("sim-2")
    names = {
        first.host_resources().hypervisor_hostname,
        second.host_resources().hypervisor_hostname,
    }
    assert names == {"sim-1", "sim-2"}
