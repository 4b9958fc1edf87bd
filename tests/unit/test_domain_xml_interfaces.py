"""The guest's network interfaces in its domain XML: one tap (ethernet) interface per
port, with the port's MAC and tap device name, which the host's network agent plugs
(hybrid plug); libvirt's test driver defines and starts such a guest."""

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from cloud.payloads import VifSpec
from cloud.workers.virt.domain_xml import DomainOptions, build_domain_xml
from tests.unit.helpers import instance_spec

OPTIONS = DomainOptions(domain_type="test", instances_path=Path("/srv/stratus/instances"))
VIFS = [
    VifSpec(
        port_id="3f0c6b1a-7d2e-4c1b-9a55-0e6f1d2c3b4a",
        network_id="n1",
        mac_address="fa:16:3e:12:34:56",
        devname="tap3f0c6b1a-7d",
        segmentation_id=101,
        mtu=1450,
    ),
    VifSpec(
        port_id="9d8c7b6a-0000-4000-8000-000000000001",
        network_id="n2",
        mac_address="fa:16:3e:65:43:21",
        devname="tap9d8c7b6a-00",
    ),
]


def _spec(vifs=VIFS):
    return dataclasses.replace(instance_spec(), ports=[v.to_dict() for v in vifs])


def test_one_tap_interface_per_port_in_order_left_for_the_agent_to_plug():
    root = ET.fromstring(build_domain_xml(_spec(), OPTIONS))
    interfaces = root.findall("devices/interface")
    assert [i.get("type") for i in interfaces] == ["ethernet", "ethernet"]
    first = interfaces[0]
    assert first.find("mac").get("address") == "fa:16:3e:12:34:56"
    # Never straight on br-int: there it would be an untagged, unfiltered trunk port.
    assert first.find("source") is None and first.find("virtualport") is None
    assert first.find("target").get("dev") == "tap3f0c6b1a-7d"
    assert first.find("model").get("type") == "virtio"
    assert first.find("mtu").get("size") == "1450"
    assert interfaces[1].find("target").get("dev") == "tap9d8c7b6a-00"


def test_no_ports_no_interfaces():
    root = ET.fromstring(build_domain_xml(instance_spec(), OPTIONS))
    assert root.findall("devices/interface") == []


def test_the_test_hypervisor_defines_and_starts_a_guest_with_interfaces():
    conn = libvirt.open("test:///default")
    try:
        domain = conn.defineXML(build_domain_xml(_spec(), OPTIONS))
        domain.create()
        defined = ET.fromstring(domain.XMLDesc())
        macs = [i.find("mac").get("address") for i in defined.findall("devices/interface")]
        assert macs == ["fa:16:3e:12:34:56", "fa:16:3e:65:43:21"]
        domain.destroy()
        domain.undefine()
    finally:
        conn.close()
