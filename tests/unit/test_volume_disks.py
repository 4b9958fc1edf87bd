"""Volumes on a guest of libvirt's test hypervisor (it attaches no device: the persistent
definition carries the disk), the `<disk>` of each connection, boot from volume, and the
compute manager's reports."""

import xml.etree.ElementTree as ET
from dataclasses import replace

import libvirt
import pytest

from cloud.payloads import AttachVolumeRequest, BlockDevice, DetachVolumeRequest
from cloud.workers import volume_attach
from cloud.workers.virt.domain_xml import DomainOptions, build_domain_xml, volume_disk
from cloud.workers.virt.driver import HypervisorError
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import INSTANCES, TEST_URI

VOLUME_ID = "6f1b2c3d-0000-4000-8000-0000000000aa"
FILE = {"driver_volume_type": "file", "path": "/srv/volumes/v1.qcow2", "format": "qcow2"}
NBD = {
    "driver_volume_type": "nbd",
    "host": "10.0.0.5",
    "port": 10809,
    "export_name": "volume-1",
    "format": "raw",
}


def _volume(volume_id: str = VOLUME_ID, connection=None, device: str = "") -> BlockDevice:
    return BlockDevice(
        volume_id=volume_id,
        attachment_id="7a2b3c4d-0000-4000-8000-0000000000ab",
        connection=connection or FILE,
        device=device,
    )


@pytest.fixture
def driver() -> LibvirtDriver:
    return LibvirtDriver(TEST_URI, INSTANCES)


def _persistent_disks(conn: libvirt.virConnect, uuid: str) -> dict[str, str]:
    """serial -> target of the disks in the guest's persistent definition."""
    tree = ET.fromstring(conn.lookupByUUIDString(uuid).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    return {
        d.findtext("serial") or "": d.find("target").get("dev")
        for d in tree.findall("./devices/disk")
    }


def test_a_file_volume_is_a_file_disk_with_the_volume_id_as_serial():
    disk = volume_disk(_volume(), "vdb")
    assert disk.get("type") == "file"
    assert disk.find("source").get("file") == FILE["path"]
    assert disk.find("driver").get("type") == "qcow2"
    assert disk.find("target").attrib == {"dev": "vdb", "bus": "virtio"}
    assert disk.findtext("serial") == VOLUME_ID


def test_an_nbd_volume_is_a_network_disk_with_host_port_and_export():
    disk = volume_disk(_volume(connection=NBD), "vdc")
    source = disk.find("source")
    assert disk.get("type") == "network"
    assert source.attrib == {"protocol": "nbd", "name": "volume-1"}
    assert source.find("host").attrib == {"name": "10.0.0.5", "port": "10809"}
    assert disk.find("driver").get("type") == "raw"


def test_an_unknown_connection_is_refused(driver, make_instance):
    spec = make_instance()
    driver.spawn(spec)
    with pytest.raises(HypervisorError, match="cannot attach a 'iscsi' connection"):
        driver.attach_volume(spec.uuid, _volume(connection={"driver_volume_type": "iscsi"}))


def test_attach_takes_the_next_target_after_the_flavors_disks(driver, make_instance, libvirt_conn):
    spec = make_instance()
    spec = replace(spec, flavor={**spec.flavor, "ephemeral_gb": 1, "swap": 64})
    driver.spawn(spec)

    device = driver.attach_volume(spec.uuid, _volume())
    second = driver.attach_volume(spec.uuid, _volume("v-2", connection=NBD))

    assert (device, second) == ("/dev/vdd", "/dev/vde")
    disks = _persistent_disks(libvirt_conn, spec.uuid)
    assert disks == {
        "root": "vda",
        "ephemeral": "vdb",
        "swap": "vdc",
        VOLUME_ID: "vdd",
        "v-2": "vde",
    }
    assert libvirt_conn.lookupByUUIDString(spec.uuid).isActive()
    diagnostics = driver.get_diagnostics(spec.uuid)
    assert diagnostics["num_disks"] == 5
    assert [d["device"] for d in diagnostics["disk_details"]][-2:] == ["vdd", "vde"]


def test_attach_is_idempotent_and_honours_a_free_requested_device(
    driver, make_instance, libvirt_conn
):
    spec = make_instance()
    driver.spawn(spec)

    assert driver.attach_volume(spec.uuid, _volume(device="/dev/vdf")) == "/dev/vdf"
    assert driver.attach_volume(spec.uuid, _volume(device="/dev/vdf")) == "/dev/vdf"
    assert list(_persistent_disks(libvirt_conn, spec.uuid).values()).count("vdf") == 1
    with pytest.raises(HypervisorError, match="already has a disk on /dev/vdf"):
        driver.attach_volume(spec.uuid, _volume("v-2", device="/dev/vdf"))
    with pytest.raises(HypervisorError, match="not a virtio disk target"):
        driver.attach_volume(spec.uuid, _volume("v-3", device="/dev/sda"))


def test_detach_removes_the_disk_then_reports_it_gone(driver, make_instance, libvirt_conn):
    spec = make_instance()
    driver.spawn(spec)
    driver.attach_volume(spec.uuid, _volume())

    assert driver.detach_volume(spec.uuid, VOLUME_ID) is True
    assert VOLUME_ID not in _persistent_disks(libvirt_conn, spec.uuid)
    assert driver.detach_volume(spec.uuid, VOLUME_ID) is False
    assert driver.detach_volume("5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11", VOLUME_ID) is False
    assert libvirt_conn.lookupByUUIDString(spec.uuid).isActive()


def test_attach_to_a_guest_the_host_lacks_is_a_hypervisor_error(driver):
    with pytest.raises(HypervisorError, match="not on this host"):
        driver.attach_volume("5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11", _volume())


def test_a_root_volume_replaces_the_local_root_disk(make_instance, tmp_path):
    spec = make_instance()
    root = {**_volume(connection=NBD).to_dict(), "boot_index": 0}
    data = {**_volume("v-data").to_dict(), "device": "/dev/vdc"}
    spec = replace(spec, block_devices=[root, data])
    tree = ET.fromstring(build_domain_xml(spec, DomainOptions("test", tmp_path)))
    disks = tree.findall("./devices/disk")

    assert [(d.get("type"), d.find("target").get("dev")) for d in disks] == [
        ("network", "vda"),
        ("file", "vdc"),
    ]
    assert not any(d.findtext("serial") == "root" for d in disks)


def test_boot_from_volume_makes_no_local_root_disk(driver, make_instance, libvirt_conn):
    spec = make_instance()
    root = {**_volume(connection=NBD).to_dict(), "boot_index": 0}
    spec = replace(spec, block_devices=[root])

    driver.spawn(spec)

    assert _persistent_disks(libvirt_conn, spec.uuid) == {VOLUME_ID: "vda"}
    assert not (INSTANCES / spec.uuid / "disk").exists()
    driver.destroy(spec.uuid)


class _Recorder:
    def __init__(self, driver):
        self.driver = driver
        self.sent: list = []
        self.config = type("Config", (), {"host": "cmp-1"})()

    def send(self, task, payload):
        self.sent.append((task, payload))


def test_the_manager_reports_attached_and_failed(driver, make_instance):
    spec = make_instance()
    driver.spawn(spec)
    manager = _Recorder(driver)
    request = AttachVolumeRequest(
        instance_uuid=spec.uuid,
        request_id="req-1",
        volume_id=VOLUME_ID,
        attachment_id="a-1",
        connection=FILE,
    )

    volume_attach.attach_volume(manager, request)
    volume_attach.attach_volume(manager, replace(request, volume_id="v-2", device="/dev/vdb"))

    (ok_task, ok), (failed_task, failed) = manager.sent
    assert (ok_task, ok.device, ok.host) == ("conductor.volume_attached", "/dev/vdb", "cmp-1")
    assert failed_task == "conductor.volume_attach_failed"
    assert "already has a disk on /dev/vdb" in failed.message and failed.details


def test_the_manager_reports_detached_even_when_it_was_gone(driver, make_instance):
    spec = make_instance()
    driver.spawn(spec)
    manager = _Recorder(driver)
    request = DetachVolumeRequest(
        instance_uuid=spec.uuid, request_id="req-2", volume_id=VOLUME_ID, attachment_id="a-1"
    )

    volume_attach.detach_volume(manager, request)

    assert [task for task, _ in manager.sent] == ["conductor.volume_detached"]
