"""The network agent on simulated hosts, driven through its real Celery tasks.

Two hosts joined by a trunk; two project networks on VLANs 101 and 102 with the same
CIDR (so only the VLAN keeps them apart); guests bound on each host get their
addresses from dnsmasq, reach each other across hosts on one network and never the
other network's guest; a security group rule opens and closes a TCP port; a floating
IP on a flat external network reaches a guest through the router's NAT; unbinding and
teardown leave nothing behind; an agent restarted after its host lost state puts it
back. The tests run in order on one lab (module fixture): each builds on the last.
"""

import subprocess
import sys
import time
import uuid

from cloud.netagent.specs import FLAT_TAG
from cloud.payloads import (
    FloatingIPMapping,
    NetworkSetup,
    NetworkTeardown,
    PortBinding,
    PortUnbinding,
)

CIDR = "10.20.1.0/24"
GATEWAY = "10.20.1.1"
NET_A = str(uuid.uuid4())  # project A's network, VLAN 101
NET_B = str(uuid.uuid4())  # project B's, VLAN 102, same CIDR
EXT = str(uuid.uuid4())  # the external (flat) network
SUBNET_A, SUBNET_B = str(uuid.uuid4()), str(uuid.uuid4())
PING = {"direction": "ingress", "protocol": "icmp", "remote_ip_prefixes": []}
EGRESS = {"direction": "egress", "protocol": None, "remote_ip_prefixes": []}
WEB = {"direction": "ingress", "protocol": "tcp", "port_range_min": 8080,
       "port_range_max": 8080, "remote_ip_prefixes": [CIDR]}  # fmt: skip


def _port(n: int, network: str, subnet: str, vlan: int, host: str, ip: str, rules) -> dict:
    port_id = str(uuid.uuid4())
    return {
        "port_id": port_id,
        "network_id": network,
        "host": host,
        "mac_address": f"fa:16:3e:00:00:{n:02x}",
        "devname": f"tap{port_id[:11]}",
        "segmentation_id": vlan,
        "fixed_ips": [{"ip_address": ip, "subnet_id": subnet, "prefixlen": 24}],
        "security_group_rules": rules,
    }


P1 = _port(1, NET_A, SUBNET_A, 101, "host-a", "10.20.1.11", [PING, EGRESS])
P2 = _port(2, NET_A, SUBNET_A, 101, "host-b", "10.20.1.12", [PING, EGRESS])
P3 = _port(3, NET_B, SUBNET_B, 102, "host-b", "10.20.1.13", [PING, EGRESS])
P4 = _port(4, NET_A, SUBNET_A, 101, "host-a", "10.20.1.14", [PING, EGRESS])
GUESTS: dict[str, str] = {}


def _network(network: str, subnet: str, vlan: int, host: str, dhcp_ip: str, ports) -> NetworkSetup:
    return NetworkSetup(
        network_id=network,
        name=f"net-{vlan}",
        project_id="p",
        network_type="vlan",
        segmentation_id=vlan,
        subnets=[
            {
                "id": subnet,
                "cidr": CIDR,
                "ip_version": 4,
                "gateway_ip": GATEWAY,
                "enable_dhcp": True,
                "dns_nameservers": [],
            }
        ],  # fmt: skip
        dhcp_port={
            "port_id": str(uuid.uuid4()),
            "mac_address": f"fa:16:3e:99:{vlan - 100:02x}:{host[-1].encode()[0]:02x}",
            "fixed_ips": [{"ip_address": dhcp_ip, "subnet_id": subnet, "prefixlen": 24}],
        },
        dhcp_hosts=[
            {
                "mac_address": p["mac_address"],
                "ip_address": p["fixed_ips"][0]["ip_address"],
                "port_id": p["port_id"],
                "hostname": "",
            }
            for p in ports
        ],  # fmt: skip
    )


def _bind(lab, port: dict, **changes) -> None:
    lab.send(port["host"], "network_agent.port_bind", PortBinding(**{**port, **changes}))


def test_agents_bring_up_br_int_and_the_trunk(lab):
    for host in ("host-a", "host-b"):
        assert lab.vsctl(host, "get", "bridge", "br-int", "datapath_type") == "netdev"
        assert "trunk0" in lab.vsctl(host, "list-ports", "br-int").split()
        assert lab.vsctl(host, "get", "port", "trunk0", "vlan_mode") == "native-untagged"
        assert lab.vsctl(host, "get", "port", "trunk0", "tag") == str(FLAT_TAG)


def test_ports_get_dhcp_addresses_and_vlans_isolate(lab):
    for host, ip_a, ip_b in (("host-a", "10.20.1.2", None), ("host-b", "10.20.1.3", "10.20.1.4")):
        lab.send(
            host,
            "network_agent.network_setup",
            _network(NET_A, SUBNET_A, 101, host, ip_a, [P1, P2]),
        )
        if ip_b:
            lab.send(
                host,
                "network_agent.network_setup",
                _network(NET_B, SUBNET_B, 102, host, ip_b, [P3]),
            )
    for name, port in (("g1", P1), ("g2", P2), ("g3", P3)):
        GUESTS[name] = lab.guest(name, port["host"], port["devname"], port["mac_address"])

    started = time.monotonic()
    _bind(lab, P1)
    lab.wait_status(P1["port_id"], "ACTIVE")
    assert lab.dhcp(GUESTS["g1"]) == "10.20.1.11/24"
    wired = time.monotonic() - started
    print(f"\nFIGURE port wiring (port_bind sent -> DHCP lease in the guest): {wired:.2f}s")

    _bind(lab, P2)
    _bind(lab, P3)
    lab.wait_status(P2["port_id"], "ACTIVE")
    lab.wait_status(P3["port_id"], "ACTIVE")
    assert lab.dhcp(GUESTS["g2"]) == "10.20.1.12/24"
    assert lab.dhcp(GUESTS["g3"]) == "10.20.1.13/24"

    # Access ports tagged with their network's VLAN.
    assert lab.vsctl("host-a", "get", "port", f"qvo{P1['port_id'][:11]}", "tag") == "101"
    assert lab.vsctl("host-b", "get", "port", f"qvo{P2['port_id'][:11]}", "tag") == "101"
    assert lab.vsctl("host-b", "get", "port", f"qvo{P3['port_id'][:11]}", "tag") == "102"

    # Same network across hosts: reachable; the other VLAN with the same CIDR: not.
    assert lab.ping(GUESTS["g1"], "10.20.1.12")
    assert not lab.ping(GUESTS["g1"], "10.20.1.13")
    assert not lab.ping(GUESTS["g3"], "10.20.1.11")
    # The trunk carried VLAN 101: host-b learned g1's MAC on its trunk port, in VLAN 101.
    trunk = lab.vsctl("host-b", "get", "interface", "trunk0", "ofport")
    fdb = [line.split() for line in lab.appctl("host-b", "fdb/show", "br-int").splitlines()[1:]]
    assert [trunk, "101", P1["mac_address"]] in [row[:3] for row in fdb]
    assert not any(row[1] == "102" and row[2] == P1["mac_address"] for row in fdb)


def test_a_guest_started_after_its_binding_is_plugged(lab):
    # As a guest booted after its port was bound: its tap appears on the host later.
    _bind(lab, P4)
    lab.wait_status(P4["port_id"], "ACTIVE")
    g4 = lab.guest("g4", "host-a", P4["devname"], P4["mac_address"])
    assert lab.dhcp(g4) == "10.20.1.14/24"
    assert lab.ping(g4, "10.20.1.12")
    lab.send(
        "host-a",
        "network_agent.port_unbind",
        PortUnbinding(
            port_id=P4["port_id"], network_id=NET_A, host="host-a", devname=P4["devname"]
        ),
    )
    lab.wait_status(P4["port_id"], "DOWN")
    assert not lab.ping(g4, "10.20.1.12", count=1)


def test_a_security_group_rule_opens_and_closes_a_port(lab):
    server = subprocess.Popen(
        ["ip", "netns", "exec", GUESTS["g2"], sys.executable, "-m", "http.server", "8080",
         "--bind", "10.20.1.12"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while (
            b":1F90"
            not in subprocess.run(
                ["ip", "netns", "exec", GUESTS["g2"], "cat", "/proc/net/tcp"], capture_output=True
            ).stdout
        ):
            assert time.monotonic() < deadline, server.poll() and server.stderr.read()
            time.sleep(0.1)
        assert not lab.tcp_connects(GUESTS["g1"], "10.20.1.12", 8080)

        _bind(lab, P2, security_group_rules=[PING, EGRESS, WEB])
        lab.wait_status(P2["port_id"], "ACTIVE")
        assert lab.tcp_connects(GUESTS["g1"], "10.20.1.12", 8080)

        _bind(lab, P2)
        lab.wait_status(P2["port_id"], "ACTIVE")
        assert not lab.tcp_connects(GUESTS["g1"], "10.20.1.12", 8080)
        assert lab.ping(GUESTS["g1"], "10.20.1.12")
    finally:
        server.terminate()
        server.wait(10)


def test_a_floating_ip_reaches_the_guest_from_outside(lab):
    outside = lab.outside("ext", "203.0.113.1/24")
    mapping = FloatingIPMapping(
        floating_ip_id=str(uuid.uuid4()),
        floating_ip_address="203.0.113.50",
        floating_network_id=EXT,
        host="host-b",
        port_id=P2["port_id"],
        fixed_ip_address="10.20.1.12",
        floating_segmentation_id=None,
        floating_prefixlen=24,
        floating_gateway_ip="203.0.113.1",
        network_id=NET_A,
        segmentation_id=101,
    )
    assert not lab.ping(outside, "203.0.113.50", count=1)
    lab.send("host-b", "network_agent.floating_ip_set", mapping)
    deadline = time.monotonic() + 30
    while not lab.ping(outside, "203.0.113.50", count=1):
        assert time.monotonic() < deadline, lab.log("host-b")[-3000:]
    # The guest's own address is not reachable from outside: only through the NAT.
    assert not lab.ping(outside, "10.20.1.12", count=1)

    lab.send("host-b", "network_agent.floating_ip_unset", mapping)
    deadline = time.monotonic() + 30
    while lab.ping(outside, "203.0.113.50", count=1):
        assert time.monotonic() < deadline


def test_unbind_and_teardown_leave_nothing(lab):
    short = P3["port_id"][:11]
    lab.send(
        "host-b",
        "network_agent.port_unbind",
        PortUnbinding(
            port_id=P3["port_id"], network_id=NET_B, host="host-b", devname=P3["devname"]
        ),
    )
    lab.wait_status(P3["port_id"], "DOWN")
    ports = lab.vsctl("host-b", "list-ports", "br-int").split()
    assert f"qvo{short}" not in ports
    ns = lab.host_ns("host-b")
    host_links = subprocess.run(
        ["ip", "netns", "exec", ns, "ip", "-o", "link"], capture_output=True, text=True
    ).stdout
    assert f"qbr{short}" not in host_links and f"qvb{short}" not in host_links
    tables = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "list", "tables"], capture_output=True, text=True
    ).stdout
    assert f"stratus-port-{short}" not in tables

    lab.send(
        "host-b",
        "network_agent.network_teardown",
        NetworkTeardown(network_id=NET_B, segmentation_id=102),
    )
    deadline = time.monotonic() + 30
    qdhcp = f"{ns}-qdhcp-{NET_B}"
    while qdhcp in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert not any(
        p.startswith("dhcp") and NET_B[:10] in p
        for p in lab.vsctl("host-b", "list-ports", "br-int").split()
    )


def test_a_restarted_agent_resyncs_its_host(lab):
    ns = lab.host_ns("host-b")
    short = P2["port_id"][:11]
    lab.stop_agent("host-b")
    # The host lost its state behind the agent's back, and gained a port nobody asked for.
    subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "del", f"qbr{short}"], check=True)
    subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", f"stratus-port-{short}"],
        check=True,
    )
    subprocess.run(["ip", "netns", "del", f"{ns}-qdhcp-{NET_A}"], check=True)
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "ip",
            "link",
            "add",
            "qvostray0000",
            "type",
            "veth",
            "peer",
            "name",
            "qvbstray0000",
        ],
        check=True,
    )
    lab.vsctl(
        "host-b",
        "add-port",
        "br-int",
        "qvostray0000",
        "--",
        "set",
        "interface",
        "qvostray0000",
        'external_ids:stratus-port="port:stray"',
    )
    assert not lab.ping(GUESTS["g1"], "10.20.1.12", count=1)

    lab.start_agent("host-b")
    lab.wait_status(P2["port_id"], "ACTIVE")
    assert lab.ping(GUESTS["g1"], "10.20.1.12")
    assert "qvostray0000" not in lab.vsctl("host-b", "list-ports", "br-int").split()
    # DHCP on host-b serves again (its namespace and dnsmasq were put back).
    subprocess.run(
        ["ip", "netns", "exec", GUESTS["g2"], "ip", "addr", "flush", "dev", "eth0"], check=True
    )
    assert lab.dhcp(GUESTS["g2"]) == "10.20.1.12/24"


def test_a_message_delivered_twice_does_no_harm(lab):
    before = sorted(lab.vsctl("host-a", "list-ports", "br-int").split())
    _bind(lab, P1)
    _bind(lab, P1)
    lab.wait_status(P1["port_id"], "ACTIVE")
    lab.wait_status(P1["port_id"], "ACTIVE")
    assert sorted(lab.vsctl("host-a", "list-ports", "br-int").split()) == before
    assert lab.ping(GUESTS["g1"], "10.20.1.12")
