"""cloud.workers.virt.domain_xml: the domain definition, checked by parsing and by real libvirt."""

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from cloud.workers.virt.domain_xml import (
    METADATA_NS,
    DomainOptions,
    build_domain_xml,
    console_log_path,
    disk_path,
    instance_dir,
    kernel_cmdline,
)
from tests.unit.helpers import instance_spec

INSTANCES = Path("/srv/stratus/instances")
OPTIONS = DomainOptions(domain_type="test", instances_path=INSTANCES)
NS = {"s": METADATA_NS}


def _parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def test_identity_and_size_come_from_the_instance_and_flavor():
    spec = instance_spec(memory_mb=2048, vcpus=3)
    root = _parse(build_domain_xml(spec, OPTIONS))

    assert root.tag == "domain"
    assert root.get("type") == "test"
    assert root.findtext("name") == spec.name
    assert root.findtext("uuid") == spec.uuid
    assert root.findtext("title") == "web-1"

    memory = root.find("memory")
    assert (memory.text, memory.get("unit")) == ("2048", "MiB")
    current = root.find("currentMemory")
    assert (current.text, current.get("unit")) == ("2048", "MiB")
    assert root.findtext("vcpu") == "3"


def test_domain_type_follows_the_options():
    spec = instance_spec()
    root = _parse(build_domain_xml(spec, DomainOptions("kvm", INSTANCES)))
    assert root.get("type") == "kvm"


def test_arch_defaults_to_x86_64():
    root = _parse(build_domain_xml(instance_spec(), OPTIONS))
    os_type = root.find("os/type")
    assert (os_type.text, os_type.get("arch")) == ("hvm", "x86_64")


def test_arch_comes_from_the_image_properties():
    spec = instance_spec(image_properties={"architecture": "aarch64"})
    root = _parse(build_domain_xml(spec, OPTIONS))
    assert root.find("os/type").get("arch") == "aarch64"


def test_image_arch_wins_over_the_host_default():
    options = DomainOptions("test", INSTANCES, arch="ppc64le")
    assert _parse(build_domain_xml(instance_spec(), options)).find("os/type").get("arch") == (
        "ppc64le"
    )
    spec = instance_spec(image_properties={"architecture": "s390x"})
    assert _parse(build_domain_xml(spec, options)).find("os/type").get("arch") == "s390x"


def test_disk_source_is_under_the_instances_path():
    spec = instance_spec()
    root = _parse(build_domain_xml(spec, OPTIONS))
    disks = root.findall("devices/disk")

    assert len(disks) == 1
    source = disks[0].find("source").get("file")
    assert source == str(INSTANCES / spec.uuid / "disk")
    assert Path(source) == disk_path(OPTIONS, spec.uuid)
    assert disks[0].find("target").get("dev") == "vda"


def test_metadata_records_owner_flavor_and_image():
    spec = instance_spec(memory_mb=1024, vcpus=1)
    root = _parse(build_domain_xml(spec, OPTIONS))
    info = root.find("metadata/s:instance", NS)

    assert info.findtext("s:name", namespaces=NS) == "web-1"
    owner = info.find("s:owner", NS)
    assert (owner.get("project"), owner.get("user")) == ("project-a", "user-a")
    flavor = info.find("s:flavor", NS)
    assert flavor.attrib == {"name": "m1.small", "memory": "1024", "vcpus": "1", "disk": "1"}
    assert info.find("s:image", NS).get("uuid") == spec.image["id"]


def test_hostile_display_name_is_escaped():
    name = "<evil>&\"'</title><devices/>"
    spec = instance_spec(display_name=name)
    xml = build_domain_xml(spec, OPTIONS)
    root = _parse(xml)

    assert "<evil>" not in xml
    assert root.findtext("title") == name
    assert root.findtext("metadata/s:instance/s:name", namespaces=NS) == name
    # The name injected no element of its own.
    assert [child.tag for child in root.find("devices")] == ["disk", "serial", "console"]
    assert len(root.findall("title")) == 1


def test_libvirt_accepts_and_runs_the_definition():
    spec = instance_spec(memory_mb=768, vcpus=3, display_name="<evil>&\"'")
    conn = libvirt.open("test:///default")
    try:
        domain = conn.defineXML(build_domain_xml(spec, OPTIONS))
        try:
            assert domain.UUIDString() == spec.uuid
            assert domain.name() == spec.name
            assert not domain.isActive()

            domain.create()
            state, max_mem_kb, mem_kb, ncpus, _cpu_time = domain.info()
            assert state == libvirt.VIR_DOMAIN_RUNNING
            assert max_mem_kb == 768 * 1024
            assert mem_kb == 768 * 1024
            assert ncpus == 3

            # libvirt stored the title verbatim, not an escaped or truncated copy.
            stored = ET.fromstring(domain.XMLDesc(0))
            assert stored.findtext("title") == "<evil>&\"'"
            assert stored.find("devices/disk/source").get("file") == str(
                INSTANCES / spec.uuid / "disk"
            )
        finally:
            if domain.isActive():
                domain.destroy()
            domain.undefine()
        with pytest.raises(libvirt.libvirtError):
            conn.lookupByUUIDString(spec.uuid)
    finally:
        conn.close()


def _kernel_boot_spec(**image: str):
    spec = instance_spec()
    return dataclasses.replace(spec, image={**spec.image, **image})


def test_an_image_without_kernel_boots_from_its_disk():
    root = _parse(build_domain_xml(instance_spec(), OPTIONS))
    assert root.find("os/boot").get("dev") == "hd"
    assert root.find("os/kernel") is None


def test_an_image_with_kernel_and_ramdisk_boots_them_directly():
    spec = _kernel_boot_spec(kernel_file="/srv/images/vmlinux", ramdisk_file="/srv/images/initrd")
    os_el = _parse(build_domain_xml(spec, OPTIONS)).find("os")

    assert os_el.findtext("kernel") == "/srv/images/vmlinux"
    assert os_el.findtext("initrd") == "/srv/images/initrd"
    assert os_el.findtext("cmdline") == "console=ttyS0 quiet hostname=web-1"
    assert os_el.find("boot") is None


def test_the_command_line_takes_the_image_property_and_a_clean_hostname():
    spec = _kernel_boot_spec(kernel_file="/srv/images/vmlinux")
    spec = dataclasses.replace(
        spec,
        hostname="web 1 init=/bin/sh",
        image={**spec.image, "properties": {"os_command_line": "loglevel=7"}},
    )
    assert kernel_cmdline(spec) == "console=ttyS0 loglevel=7 hostname=web1initbinsh"
    assert len(kernel_cmdline(spec).split()) == 3


def test_the_serial_console_is_logged_in_the_instance_directory():
    spec = instance_spec()
    qemu = DomainOptions("qemu", INSTANCES)
    serial = _parse(build_domain_xml(spec, qemu)).find("devices/serial")

    log = serial.find("log")
    assert log.get("file") == str(INSTANCES / spec.uuid / "console.log")
    assert Path(log.get("file")) == console_log_path(qemu, spec.uuid)
    assert log.get("append") == "off"
    assert console_log_path(OPTIONS, spec.uuid).parent == instance_dir(OPTIONS, spec.uuid)
    assert disk_path(OPTIONS, spec.uuid).parent == instance_dir(OPTIONS, spec.uuid)


def test_the_test_hypervisor_gets_no_console_log():
    serial = _parse(build_domain_xml(instance_spec(), OPTIONS)).find("devices/serial")
    assert serial.find("log") is None


def test_libvirt_accepts_a_kernel_boot_definition():
    spec = _kernel_boot_spec(kernel_file="/srv/images/vmlinux", ramdisk_file="/srv/images/initrd")
    conn = libvirt.open("test:///default")
    try:
        domain = conn.defineXML(build_domain_xml(spec, OPTIONS))
        try:
            stored = ET.fromstring(domain.XMLDesc(0))
            assert stored.findtext("os/kernel") == "/srv/images/vmlinux"
            assert stored.findtext("os/cmdline") == "console=ttyS0 quiet hostname=web-1"
        finally:
            domain.undefine()
    finally:
        conn.close()


def test_a_qemu_guest_gets_a_tcp_serial_console_and_vnc_and_spice_on_the_console_address():
    spec = instance_spec()
    options = DomainOptions("qemu", INSTANCES, console_address="192.0.2.7")
    devices = _parse(build_domain_xml(spec, options, serial_port=10007)).find("devices")
    serial = devices.find("serial")
    assert serial.get("type") == "tcp"
    source = serial.find("source")
    assert (source.get("mode"), source.get("host"), source.get("service")) == (
        "bind",
        "192.0.2.7",
        "10007",
    )
    assert serial.find("log").get("file") == str(console_log_path(options, spec.uuid))
    graphics = {g.get("type"): g for g in devices.findall("graphics")}
    assert set(graphics) == {"vnc", "spice"}
    for element in graphics.values():
        # libvirt picks the port when the guest starts; the driver reads it back.
        assert element.get("autoport") == "yes" and element.get("port") is None
        assert element.find("listen").get("address") == "192.0.2.7"


def test_the_test_hypervisor_gets_no_graphics():
    assert _parse(build_domain_xml(instance_spec(), OPTIONS)).find("devices/graphics") is None
