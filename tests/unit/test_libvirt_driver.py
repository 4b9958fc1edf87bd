"""LibvirtDriver against libvirt's in-process test hypervisor (`test:///default`)."""

import dataclasses
import uuid

import libvirt
import pytest

from cloud.workers.virt.driver import HypervisorError, InstanceInfo
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import INSTANCES, TEST_URI, domain_uuids, instance_spec

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


DISK_FILE_KEYS = {"device", "path", "format", "virtual_size", "actual_size", "backing_file"}


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
        # Nova's counters, then what the host knows of the disk's file.
        assert set(disk) == NOVA_248_DISK_KEYS | DISK_FILE_KEYS
        assert all(isinstance(disk[k], int) for k in NOVA_248_DISK_KEYS)
    root = diag["disk_details"][0]
    assert root["device"] == "vda" and root["format"] == "qcow2"
    assert root["path"] == str(INSTANCES / spec.uuid / "disk")
    assert root["virtual_size"] == 1024**3  # the flavor's root_gb
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


def test_console_output_everywhere_remote_consoles_on_qemu_only():
    # The test hypervisor's console log is the driver's own; it has no graphics.
    test, qemu = LibvirtDriver(TEST_URI, INSTANCES), LibvirtDriver("qemu:///system", INSTANCES)
    assert test.capabilities["supports_console_output"]
    assert qemu.capabilities["supports_console_output"]
    assert test.capabilities["supports_remote_consoles"] is False
    assert qemu.capabilities["supports_remote_consoles"]


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


def test_simulated_hosts_on_one_machine_are_told_apart_by_host_name(tmp_path):
    first, second = LibvirtDriver(TEST_URI, tmp_path), LibvirtDriver(TEST_URI, tmp_path)
    first.init_host("sim-1")
    second.init_host("sim-2")
    names = {
        first.host_resources().hypervisor_hostname,
        second.host_resources().hypervisor_hostname,
    }
    assert names == {"sim-1", "sim-2"}


def _vif(n: int):
    from cloud.payloads import VifSpec

    port_id = str(uuid.uuid4())
    return VifSpec(
        port_id=port_id,
        network_id=str(uuid.uuid4()),
        mac_address=f"fa:16:3e:00:10:{n:02x}",
        devname=f"tap{port_id[:11]}",
    )


def test_interfaces_attach_to_the_persistent_definition_on_the_test_hypervisor(
    driver, make_instance, libvirt_conn
):
    """The test hypervisor has no device calls: the running guest keeps what it has, the
    definition gets the interface (twice is once), and the guest has it from its next
    start, in its diagnostics too; detaching takes it from the definition."""
    spec = make_instance()
    driver.spawn(spec)
    domain = libvirt_conn.lookupByUUIDString(spec.uuid)
    first, second = _vif(1), _vif(2)

    assert driver.attach_interface(spec.uuid, first) is False
    assert driver.attach_interface(spec.uuid, first) is False
    assert driver.attach_interface(spec.uuid, second) is False
    persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert persistent.count(first.mac_address) == 1 and second.devname in persistent
    assert first.mac_address not in domain.XMLDesc(0)

    domain.destroy()
    domain.create()
    nics = driver.get_diagnostics(spec.uuid)["nic_details"]
    assert [n["mac_address"] for n in nics] == [first.mac_address, second.mac_address]
    assert all(isinstance(n["rx_octets"], int) for n in nics)

    assert driver.detach_interface(spec.uuid, first) is False
    # Again: the definition has it no more; the running guest keeps it to its next stop.
    assert driver.detach_interface(spec.uuid, first) is False
    persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert first.mac_address not in persistent and second.mac_address in persistent
    with pytest.raises(HypervisorError):
        driver.attach_interface(str(uuid.uuid4()), first)
