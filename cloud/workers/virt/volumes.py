"""Volumes in and out of a libvirt guest: the `<disk>` of cloud.workers.virt.domain_xml
attached to (or detached from) the domain.

A volume's disk is found again by its serial, the volume's id, so both operations
are idempotent: an attach of a volume the guest has reports its target, a detach of
one it does not have reports False. On QEMU a running guest gets the disk
hot-plugged (VIR_DOMAIN_AFFECT_LIVE, with CONFIG so a restart keeps it), and a
detach waits until the guest has let go of it (the unplug needs the guest's
cooperation: libvirt only asks). libvirt's test hypervisor attaches no device, so
there the persistent definition is rewritten with the disk added or removed: the
attachment is visible in libvirt either way.
"""

import time
import xml.etree.ElementTree as ET

import libvirt

from cloud.payloads import BlockDevice
from cloud.workers.virt.domain_xml import VolumeDiskError, next_free_target, volume_disk

_TARGET_DEVICES = {f"vd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz"}
_POLL = 0.2


def _tree(domain: libvirt.virDomain, flags: int) -> ET.Element:
    return ET.fromstring(domain.XMLDesc(flags))


def _disk_of(tree: ET.Element, volume_id: str) -> ET.Element | None:
    for disk in tree.findall("./devices/disk"):
        if (disk.findtext("serial") or "") == volume_id:
            return disk
    return None


def _targets(*trees: ET.Element) -> set[str | None]:
    return {t.get("dev") for tree in trees for t in tree.findall("./devices/disk/target")}


def _target_of(disk: ET.Element) -> str:
    target = disk.find("target")
    return f"/dev/{target.get('dev')}" if target is not None else ""


def _requested(volume: BlockDevice, taken: set[str | None]) -> str:
    """The target asked for (checked free), else the next free one."""
    wanted = volume.device.removeprefix("/dev/")
    if not wanted:
        return next_free_target(taken)
    if wanted not in _TARGET_DEVICES:
        raise VolumeDiskError(f"{volume.device} is not a virtio disk target (vdb to vdz)")
    if wanted in taken:
        raise VolumeDiskError(f"the guest already has a disk on {volume.device}")
    return wanted


def attach(
    conn: libvirt.virConnect, domain: libvirt.virDomain, volume: BlockDevice, *, hotplug: bool
) -> str:
    """The volume on the guest (see the module's docstring); its target ("/dev/vdb")."""
    persistent = _tree(domain, libvirt.VIR_DOMAIN_XML_INACTIVE)
    live = hotplug and domain.isActive()
    running = _tree(domain, 0) if live else persistent
    in_config, in_live = _disk_of(persistent, volume.volume_id), _disk_of(running, volume.volume_id)
    if in_config is not None and (in_live is not None or not live):
        return _target_of(in_config)
    if in_live is not None:  # a hot-plug whose definition was not written: write it
        domain.attachDeviceFlags(
            ET.tostring(in_live, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_CONFIG
        )
        return _target_of(in_live)
    if in_config is not None:  # in the definition, not in the running guest: plug it in
        domain.attachDeviceFlags(
            ET.tostring(in_config, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_LIVE
        )
        return _target_of(in_config)
    target = _requested(volume, _targets(persistent, running))
    disk = volume_disk(volume, target)
    if not hotplug:
        devices = persistent.find("devices")
        assert devices is not None  # every domain libvirt describes has <devices>
        devices.append(disk)
        conn.defineXML(ET.tostring(persistent, encoding="unicode"))
        return f"/dev/{target}"
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if live:
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    domain.attachDeviceFlags(ET.tostring(disk, encoding="unicode"), flags)
    return f"/dev/{target}"


def detach(
    conn: libvirt.virConnect,
    domain: libvirt.virDomain,
    volume_id: str,
    *,
    hotplug: bool,
    timeout: float,
) -> bool:
    """The volume's disk out of the guest (see the module's docstring); False when the
    guest had none; VolumeDiskError when a running guest kept it past `timeout`."""
    persistent = _tree(domain, libvirt.VIR_DOMAIN_XML_INACTIVE)
    in_config = _disk_of(persistent, volume_id)
    if not hotplug:
        if in_config is None:
            return False
        devices = persistent.find("devices")
        assert devices is not None
        devices.remove(in_config)
        conn.defineXML(ET.tostring(persistent, encoding="unicode"))
        return True
    in_live = _disk_of(_tree(domain, 0), volume_id) if domain.isActive() else None
    if in_live is None and in_config is None:
        return False
    if in_live is None:
        domain.detachDeviceFlags(
            ET.tostring(in_config, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_CONFIG
        )
        return True
    flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
    if in_config is not None:
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    domain.detachDeviceFlags(ET.tostring(in_live, encoding="unicode"), flags)
    deadline = time.monotonic() + timeout
    while domain.isActive() and _disk_of(_tree(domain, 0), volume_id) is not None:
        if time.monotonic() > deadline:
            raise VolumeDiskError(
                f"the guest did not release volume {volume_id} within {timeout:.0f}s"
            )
        time.sleep(_POLL)
    return True
