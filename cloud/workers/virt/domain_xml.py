"""libvirt domain XML, built as an element tree from an instance spec.

Values are set as element text and attributes (ElementTree escapes them), so
a server named `<evil>` cannot inject XML into its own definition.

Each guest's files live in one directory the driver owns,
`<instances_path>/<uuid>/`: its root disk and the serial console's log.
An image with kernel and ramdisk parts (Nova's kernel_id / ramdisk_id, which
arrive as host paths in the image spec) boots directly from them.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cloud.payloads import InstanceSpec

METADATA_NS = "http://stratus.dev/xmlns/libvirt/instance/1.0"


@dataclass(frozen=True)
class DomainOptions:
    """Host-side choices that are not part of the instance itself."""

    domain_type: str  # "test", "qemu" or "kvm"
    instances_path: Path
    arch: str = "x86_64"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def instance_dir(options: DomainOptions, instance_uuid: str) -> Path:
    return options.instances_path / instance_uuid


def disk_path(options: DomainOptions, instance_uuid: str) -> Path:
    return instance_dir(options, instance_uuid) / "disk"


def console_log_path(options: DomainOptions, instance_uuid: str) -> Path:
    return instance_dir(options, instance_uuid) / "console.log"


def kernel_cmdline(instance: InstanceSpec) -> str:
    """The serial console first (console output is read from it), then the image's
    `os_command_line` (Nova's property; `quiet` by default: every kernel message
    costs time on an emulated serial line), then the hostname for the guest's init.
    The hostname is reduced to what a hostname may hold, so it adds no arguments."""
    extra = str(instance.image_spec.properties.get("os_command_line") or "quiet")
    hostname = re.sub(r"[^A-Za-z0-9.-]", "", instance.hostname) or "localhost"
    return f"console=ttyS0 {extra} hostname={hostname}"


def build_domain_xml(instance: InstanceSpec, options: DomainOptions) -> str:
    flavor = instance.flavor_spec
    image = instance.image_spec
    arch = str(image.properties.get("architecture") or options.arch)

    domain = ET.Element("domain", {"type": options.domain_type})
    _sub(domain, "name", instance.name)
    _sub(domain, "uuid", instance.uuid)
    _sub(domain, "title", instance.display_name)

    metadata = _sub(domain, "metadata")
    ET.register_namespace("stratus", METADATA_NS)
    info = _sub(metadata, f"{{{METADATA_NS}}}instance")
    _sub(info, f"{{{METADATA_NS}}}name", instance.display_name)
    _sub(info, f"{{{METADATA_NS}}}owner", project=instance.project_id, user=instance.user_id)
    _sub(
        info,
        f"{{{METADATA_NS}}}flavor",
        name=flavor.name,
        memory=str(flavor.memory_mb),
        vcpus=str(flavor.vcpus),
        disk=str(flavor.root_gb),
    )
    _sub(info, f"{{{METADATA_NS}}}image", uuid=image.id)

    _sub(domain, "memory", str(flavor.memory_mb), unit="MiB")
    _sub(domain, "currentMemory", str(flavor.memory_mb), unit="MiB")
    _sub(domain, "vcpu", str(flavor.vcpus), placement="static")

    os_el = _sub(domain, "os")
    _sub(os_el, "type", "hvm", arch=arch)
    if image.kernel_file:
        _sub(os_el, "kernel", image.kernel_file)
        if image.ramdisk_file:
            _sub(os_el, "initrd", image.ramdisk_file)
        _sub(os_el, "cmdline", kernel_cmdline(instance))
    else:
        _sub(os_el, "boot", dev="hd")
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    _sub(domain, "clock", offset="utc")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")

    devices = _sub(domain, "devices")
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2", cache="none")
    _sub(disk, "source", file=str(disk_path(options, instance.uuid)))
    _sub(disk, "target", dev="vda", bus="virtio")
    # A pty gives a live console; its log (kept by virtlogd) is the console output.
    # The test hypervisor runs no guest, so it would have nothing to log.
    serial = _sub(devices, "serial", type="pty")
    if options.domain_type != "test":
        _sub(serial, "log", file=str(console_log_path(options, instance.uuid)), append="off")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")

    return ET.tostring(domain, encoding="unicode")
