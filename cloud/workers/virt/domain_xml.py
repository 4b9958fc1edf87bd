"""libvirt domain XML, built as an element tree from an instance spec.

Values are set as element text and attributes (ElementTree escapes them), so
a server named `<evil>` cannot inject XML into its own definition.

Each guest's files live in one directory the driver owns,
`<instances_path>/<uuid>/`: its disks (`guest_disks`: the root disk, and the
flavor's ephemeral and swap disks) and the serial console's log.
Each of the guest's ports (InstanceSpec.ports) is an `<interface type='ethernet'>`:
libvirt makes the tap device the port names, with the port's MAC, and the host's
network agent plugs it (Neutron's hybrid plug: tap → qbr bridge where the port's
nftables rules apply → br-int, tagged with the network's VLAN). A tap straight on
br-int would be an untagged, unfiltered trunk port until the agent moved it: the
userspace datapath never passes frames through netfilter.
A volume (InstanceSpec.block_devices, or one attached later) is a disk of the
guest's whose data is not here: a file the hosts share (type='file') or a network
disk the volume host exports over NBD (type='network' protocol='nbd'), its serial
the volume's id (Nova's; the guest finds it by /dev/disk/by-id/virtio-<id>). A root
volume (boot_index 0) takes vda and the guest gets no local root disk.
A server created with a config drive has it as an IDE cdrom (hdd, Nova's place for it on
a pc machine), the read-only iso9660 file `disk.config` (cloud.workers.virt.configdrive).
An image with kernel and ramdisk parts (Nova's kernel_id / ramdisk_id, which
arrive as host paths in the image spec) boots directly from them.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cloud.payloads import BlockDevice, InstanceSpec, VifSpec

METADATA_NS = "http://stratus.dev/xmlns/libvirt/instance/1.0"


@dataclass(frozen=True)
class DomainOptions:
    """Host-side choices that are not part of the instance itself."""

    domain_type: str  # "test", "qemu" or "kvm"
    instances_path: Path
    arch: str = "x86_64"
    # Where the guest's VNC, SPICE and serial consoles listen: an address of this
    # host that the console proxy reaches.
    console_address: str = "127.0.0.1"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def instance_dir(options: DomainOptions, instance_uuid: str) -> Path:
    return options.instances_path / instance_uuid


def disk_path(options: DomainOptions, instance_uuid: str) -> Path:
    return instance_dir(options, instance_uuid) / "disk"


def config_drive_path(options: DomainOptions, instance_uuid: str) -> Path:
    return instance_dir(options, instance_uuid) / "disk.config"


@dataclass(frozen=True)
class GuestDisk:
    """One disk device of a guest: what it is for, its file, its target and format."""

    kind: str  # "root", "ephemeral" or "swap"
    path: Path
    target: str
    format: str


def guest_disks(options: DomainOptions, instance: InstanceSpec) -> list[GuestDisk]:
    """The guest's local disks, in device order (Nova's libvirt layout): the root disk
    (qcow2, backed by the cached base image) unless a volume is its root, then the
    flavor's ephemeral disk and swap (raw)."""
    flavor = instance.flavor_spec
    directory = instance_dir(options, instance.uuid)
    disks = []
    if instance.root_volume is None:
        disks.append(GuestDisk("root", disk_path(options, instance.uuid), "vda", "qcow2"))
    if flavor.ephemeral_gb > 0:
        disks.append(GuestDisk("ephemeral", directory / "disk.eph0", "vdb", "raw"))
    if flavor.swap > 0:
        target = "vdc" if flavor.ephemeral_gb > 0 else "vdb"
        disks.append(GuestDisk("swap", directory / "disk.swap", target, "raw"))
    return disks


class VolumeDiskError(ValueError):
    """A volume this host cannot give the guest: an unknown transport, no free target."""


def volume_disk(volume: BlockDevice, target: str) -> ET.Element:
    """The `<disk>` of a volume on target `target` ("vdb"): a shared file or an NBD
    export, as the volume worker's connection says."""
    connection = volume.connection
    kind = connection.get("driver_volume_type")
    fmt = str(connection.get("format") or "raw")
    if kind == "file" and connection.get("path"):
        disk = ET.Element("disk", {"type": "file", "device": "disk"})
        _sub(disk, "driver", name="qemu", type=fmt, cache="none")
        _sub(disk, "source", file=str(connection["path"]))
    elif kind == "nbd" and connection.get("host") and connection.get("port"):
        disk = ET.Element("disk", {"type": "network", "device": "disk"})
        # qemu-nbd serves the image's contents: the guest reads the export as raw.
        _sub(disk, "driver", name="qemu", type="raw", cache="none")
        source = _sub(disk, "source", protocol="nbd", name=str(connection.get("export_name") or ""))
        _sub(source, "host", name=str(connection["host"]), port=str(connection["port"]))
    else:
        raise VolumeDiskError(f"volume {volume.volume_id}: cannot attach a {kind!r} connection")
    _sub(disk, "target", dev=target, bus="virtio")
    _sub(disk, "serial", volume.volume_id)
    return disk


def _disk_devices(devices: ET.Element, instance: InstanceSpec, options: DomainOptions) -> None:
    root = instance.root_volume
    if root is not None:
        devices.append(volume_disk(root, "vda"))
    for guest_disk in guest_disks(options, instance):
        disk = _sub(devices, "disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type=guest_disk.format, cache="none")
        _sub(disk, "source", file=str(guest_disk.path))
        _sub(disk, "target", dev=guest_disk.target, bus="virtio")
        _sub(disk, "serial", guest_disk.kind)
    taken = {t.get("dev") for t in devices.findall("./disk/target")}
    for volume in instance.volumes:
        if volume.boot_index == 0:
            continue
        target = volume.device.removeprefix("/dev/") or next_free_target(taken)
        taken.add(target)
        devices.append(volume_disk(volume, target))
    if instance.config_drive:
        cdrom = _sub(devices, "disk", type="file", device="cdrom")
        _sub(cdrom, "driver", name="qemu", type="raw")
        _sub(cdrom, "source", file=str(config_drive_path(options, instance.uuid)))
        _sub(cdrom, "target", dev="hdd", bus="ide")
        _sub(cdrom, "readonly")


def next_free_target(taken: set[str | None]) -> str:
    """The first virtio target (vdb, vdc, ... vdz) no disk of the guest has."""
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"vd{letter}" not in taken:
            return f"vd{letter}"
    raise VolumeDiskError("the guest has no free virtio disk target left")


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


def add_console_devices(
    devices: ET.Element, options: DomainOptions, instance_uuid: str, serial_port: int | None
) -> None:
    """The guest's serial console and its graphics.

    On QEMU the serial console is a TCP server on `console_address:serial_port` (the
    console proxy's serial websocket connects to it; without a port, a pty), its
    output logged by virtlogd to the instance's console log; VNC and SPICE listen on
    the same address with ports libvirt picks when the guest starts (autoport: the
    driver reads them back from the live definition). The test hypervisor runs no
    guest, so it gets a pty with no log and no graphics (its console log is the
    driver's, see LibvirtDriver)."""
    if options.domain_type == "test":
        serial = _sub(devices, "serial", type="pty")
        _sub(serial, "target", port="0")
        console = _sub(devices, "console", type="pty")
        _sub(console, "target", type="serial", port="0")
        return
    if serial_port:
        serial = _sub(devices, "serial", type="tcp")
        _sub(serial, "source", mode="bind", host=options.console_address, service=str(serial_port))
        _sub(serial, "protocol", type="raw")
    else:
        serial = _sub(devices, "serial", type="pty")
    _sub(serial, "log", file=str(console_log_path(options, instance_uuid)), append="off")
    _sub(serial, "target", port="0")
    for kind in ("vnc", "spice"):
        graphics = _sub(
            devices, "graphics", type=kind, autoport="yes", listen=options.console_address
        )
        _sub(graphics, "listen", type="address", address=options.console_address)


def add_interface(devices: ET.Element, vif: VifSpec) -> ET.Element:
    """The port's interface: a tap device of the port's name and MAC that the host's
    network agent plugs (see above)."""
    interface = _sub(devices, "interface", type="ethernet")
    _sub(interface, "mac", address=vif.mac_address)
    _sub(interface, "target", dev=vif.devname)
    _sub(interface, "model", type="virtio")
    _sub(interface, "mtu", size=str(vif.mtu))
    return interface


def add_interfaces(devices: ET.Element, instance: InstanceSpec) -> None:
    """One interface per port, in the order the ports were asked for."""
    for vif in instance.vifs:
        add_interface(devices, vif)


def build_domain_xml(
    instance: InstanceSpec, options: DomainOptions, *, serial_port: int | None = None
) -> str:
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
    _disk_devices(devices, instance, options)
    add_interfaces(devices, instance)
    add_console_devices(devices, options, instance.uuid, serial_port)

    return ET.tostring(domain, encoding="unicode")
