"""Config drives (cloud.workers.virt.configdrive): the iso9660 `config-2` drive a host
writes for a server created with one, read back with isoinfo (genisoimage's reader),
and its cdrom in the domain XML, which libvirt's test driver defines and starts."""

import base64
import dataclasses
import json
import subprocess
import xml.etree.ElementTree as ET

import libvirt
import pytest

from cloud.payloads import InstanceSpec, VifSpec
from cloud.workers.virt.configdrive import drive_files, write_config_drive
from cloud.workers.virt.domain_xml import DomainOptions, build_domain_xml, config_drive_path
from cloud.workers.virt.driver import HypervisorError
from tests.unit.helpers import instance_spec

SCRIPT = b"#!/bin/sh\necho hello from the user data\n"
VIF = VifSpec(
    port_id="3f0c6b1a-7d2e-4c1b-9a55-0e6f1d2c3b4a",
    network_id="5e1d2c3b-0000-4000-8000-00000000000a",
    mac_address="fa:16:3e:12:34:56",
    devname="tap3f0c6b1a-7d",
    mtu=1450,
    fixed_ips=[
        {
            "ip_address": "10.0.0.7",
            "subnet_id": "s1",
            "cidr": "10.0.0.0/24",
            "prefixlen": 24,
            "gateway_ip": "10.0.0.1",
            "version": 4,
        }
    ],
)


def _spec(**changes) -> InstanceSpec:
    fields = {
        "config_drive": True,
        "user_data": base64.b64encode(SCRIPT).decode(),
        "metadata": {"role": "web"},
        "ports": [VIF.to_dict()],
    }
    return dataclasses.replace(instance_spec(), **{**fields, **changes})


def _isoinfo(*args: str) -> str:
    return subprocess.run(
        ["isoinfo", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def test_the_drive_holds_meta_data_network_data_and_the_user_data(tmp_path):
    spec = _spec()
    iso = tmp_path / "disk.config"
    write_config_drive(iso, spec)

    assert "Volume id: config-2" in _isoinfo("-d", "-i", str(iso))
    # Rock Ridge names: what the guest's isofs shows it.
    names = _isoinfo("-R", "-f", "-i", str(iso)).split()
    assert "/openstack/latest/user_data" in names
    read = lambda name: _isoinfo("-R", "-x", f"/openstack/latest/{name}", "-i", str(iso))  # noqa: E731
    assert read("user_data").encode() == SCRIPT
    meta = json.loads(read("meta_data.json"))
    assert (meta["uuid"], meta["hostname"], meta["meta"]) == (spec.uuid, "web-1", {"role": "web"})
    network = json.loads(read("network_data.json"))
    assert network["links"] == [
        {
            "id": VIF.devname,
            "vif_id": VIF.port_id,
            "type": "ovs",
            "mtu": 1450,
            "ethernet_mac_address": VIF.mac_address,
        }
    ]
    (net,) = network["networks"]
    assert (net["type"], net["ip_address"], net["netmask"], net["link"]) == (
        "ipv4",
        "10.0.0.7",
        "255.255.255.0",
        VIF.devname,
    )
    assert net["routes"] == [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]
    assert list(tmp_path.iterdir()) == [iso]  # nothing left beside it

    # Written once: a redelivered build keeps the drive there.
    before = iso.stat().st_mtime_ns
    write_config_drive(iso, _spec(user_data=""))
    assert iso.stat().st_mtime_ns == before


def test_no_user_data_is_no_user_data_file():
    assert sorted(drive_files(_spec(user_data=""))) == [
        "openstack/latest/meta_data.json",
        "openstack/latest/network_data.json",
    ]


def test_user_data_that_is_not_base64_is_a_hypervisor_error(tmp_path):
    with pytest.raises(HypervisorError, match="not base64"):
        write_config_drive(tmp_path / "disk.config", _spec(user_data="not base64!"))
    assert not (tmp_path / "disk.config").exists()


def test_without_genisoimage_the_build_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HypervisorError, match="genisoimage is not installed"):
        write_config_drive(tmp_path / "disk.config", _spec())


def test_the_domain_has_the_drive_as_a_read_only_cdrom_only_when_asked(tmp_path):
    options = DomainOptions(domain_type="test", instances_path=tmp_path)
    spec = _spec()
    root = ET.fromstring(build_domain_xml(spec, options))
    (cdrom,) = root.findall("devices/disk[@device='cdrom']")
    assert cdrom.find("source").get("file") == str(config_drive_path(options, spec.uuid))
    assert (cdrom.find("target").get("dev"), cdrom.find("target").get("bus")) == ("hdd", "ide")
    assert cdrom.find("readonly") is not None

    plain = ET.fromstring(build_domain_xml(_spec(config_drive=False), options))
    assert plain.findall("devices/disk[@device='cdrom']") == []

    conn = libvirt.open("test:///default")
    try:
        domain = conn.defineXML(build_domain_xml(spec, options))
        domain.create()
        stored = ET.fromstring(domain.XMLDesc(0))
        assert stored.find("devices/disk[@device='cdrom']/target").get("dev") == "hdd"
        domain.destroy()
        domain.undefine()
    finally:
        conn.close()
