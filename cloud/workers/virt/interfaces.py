"""A guest's interfaces plugged in and out while it is defined (os-interface).

Where the hypervisor can (QEMU), the device is attached to or detached from the
running guest and its persistent definition at once (VIR_DOMAIN_AFFECT_LIVE |
AFFECT_CONFIG); libvirt's test hypervisor implements no device calls, so there the
persistent definition is rewritten with or without the interface (defineXML), and
the guest has it from its next start. Both are idempotent: an interface already
there (or already gone), found by its MAC, is left as it is.
"""

import xml.etree.ElementTree as ET

import libvirt

from cloud.payloads import VifSpec
from cloud.workers.virt.domain_xml import add_interface
from cloud.workers.virt.driver import HypervisorError


def _find(tree: ET.Element, mac: str) -> ET.Element | None:
    for interface in tree.findall("./devices/interface"):
        found = interface.find("mac")
        if found is not None and (found.get("address") or "").lower() == mac.lower():
            return interface
    return None


def _persistent(domain: libvirt.virDomain) -> ET.Element:
    return ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def _unsupported(exc: libvirt.libvirtError) -> bool:
    return exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT


def attach(conn: libvirt.virConnect, domain: libvirt.virDomain, vif: VifSpec) -> bool:
    """Plug `vif` into the guest; True when the running guest has it now."""
    tree = _persistent(domain)
    if _find(tree, vif.mac_address) is not None:
        running = _find(ET.fromstring(domain.XMLDesc(0)), vif.mac_address)
        return bool(domain.isActive()) and running is not None
    device = ET.tostring(add_interface(ET.Element("devices"), vif), encoding="unicode")
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if domain.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    try:
        domain.attachDeviceFlags(device, flags)
        return bool(flags & libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as exc:
        if not _unsupported(exc):
            raise HypervisorError(f"libvirt could not attach port {vif.port_id}: {exc}") from exc
    add_interface(tree.find("devices"), vif)
    _redefine(conn, tree, vif.port_id)
    return False


def detach(conn: libvirt.virConnect, domain: libvirt.virDomain, vif: VifSpec) -> bool:
    """Unplug `vif` from the guest; True when the running guest has it no more."""
    tree = _persistent(domain)
    persistent = _find(tree, vif.mac_address)
    running = _find(ET.fromstring(domain.XMLDesc(0)), vif.mac_address)
    flags = 0
    if persistent is not None:
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if domain.isActive() and running is not None:
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if not flags:
        return bool(domain.isActive())
    device = persistent if persistent is not None else running
    try:
        domain.detachDeviceFlags(ET.tostring(device, encoding="unicode"), flags)
        return bool(domain.isActive())
    except libvirt.libvirtError as exc:
        if not _unsupported(exc):
            raise HypervisorError(f"libvirt could not detach port {vif.port_id}: {exc}") from exc
    if persistent is not None:
        tree.find("devices").remove(persistent)
        _redefine(conn, tree, vif.port_id)
    return False


def _redefine(conn: libvirt.virConnect, tree: ET.Element, port_id: str) -> None:
    try:
        conn.defineXML(ET.tostring(tree, encoding="unicode"))
    except libvirt.libvirtError as exc:
        raise HypervisorError(f"libvirt could not redefine the guest for {port_id}: {exc}") from exc
