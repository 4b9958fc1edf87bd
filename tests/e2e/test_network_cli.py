"""Networks with the unmodified `openstack` CLI against the real stack: networks (a
provider VLAN for the admin), subnets, ports with fixed IPs, security groups and rules,
servers on networks (`--network`, `--nic`, `--port`), interfaces added to and removed
from a running server, addresses and security groups in `server show`/`list`,
floating IPs, and the network quotas (`quota set --networks --ports`). Run as root
(CI), the stack's hosts have their network agents: the ports are wired (ACTIVE)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack, until

pytestmark = pytest.mark.e2e
CIDR = "10.30.0.0/24"


def _cli(stack: RunningStack, *args: str, cloud: str = "stratus-demo", ok: bool = True):
    cli = Path(sys.executable).parent / "openstack"
    done = subprocess.run(
        [str(cli), *args],
        env={**stack.env, "OS_CLOUD": cloud},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert (done.returncode == 0) == ok, f"openstack {' '.join(args)}: {done.stderr}"
    return done.stdout if ok else done.stderr


def demo(stack: RunningStack, *args: str):
    return json.loads(_cli(stack, *args, "-f", "json"))


def admin(stack: RunningStack, *args: str):
    return json.loads(_cli(stack, *args, "-f", "json", cloud="stratus"))


def _ips(port: dict) -> list[str]:
    return [f["ip_address"] for f in port["fixed_ips"]]


def test_cli_networks_ports_servers(stack: RunningStack):
    wired = os.geteuid() == 0  # the stack runs its hosts' network agents
    net = demo(stack, "network", "create", "--description", "the web tier", "web-net")
    assert net["status"] == "ACTIVE" and net["description"] == "the web tier"
    subnet = demo(
        stack, "subnet", "create", "--network", "web-net", "--subnet-range", CIDR,
        "--allocation-pool", "start=10.30.0.10,end=10.30.0.60",
        "--dns-nameserver", "10.30.0.2", "web-sub",
    )  # fmt: skip
    assert subnet["gateway_ip"] == "10.30.0.1" and subnet["enable_dhcp"] is True
    assert subnet["allocation_pools"] == [{"start": "10.30.0.10", "end": "10.30.0.60"}]
    # The admin puts a network on a VLAN of their choice, for the demo project.
    vlan = admin(
        stack, "network", "create", "--project", "demo", "--provider-network-type", "vlan",
        "--provider-segment", "150", "db-net",
    )  # fmt: skip
    assert vlan["provider:segmentation_id"] == 150
    demo(stack, "subnet", "create", "--network", "db-net", "--subnet-range", "10.31.0.0/24",
         "--no-dhcp", "db-sub")  # fmt: skip
    assert {"web-net", "db-net", "public"} <= {n["Name"] for n in demo(stack, "network", "list")}

    port = demo(stack, "port", "create", "--network", "web-net",
                "--fixed-ip", "subnet=web-sub,ip-address=10.30.0.20", "kept")  # fmt: skip
    assert _ips(port) == ["10.30.0.20"] and port["mac_address"].startswith("fa:16:3e:")
    _cli(stack, "port", "set", "--description", "passed in", "kept")
    assert demo(stack, "port", "show", "kept")["description"] == "passed in"

    group = demo(stack, "security", "group", "create", "web")
    demo(stack, "security", "group", "rule", "create", "--protocol", "tcp",
         "--dst-port", "8080", "--ingress", "web")  # fmt: skip
    rules = demo(stack, "security", "group", "rule", "list", "web")
    assert any(r["Port Range"] == "8080:8080" for r in rules), rules

    boot = ("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait")
    _cli(stack, *boot, "--network", "web-net", "vm-net")
    _cli(stack, *boot, "--nic", f"net-id={net['id']},v4-fixed-ip=10.30.0.30",
         "--security-group", "web", "vm-nic")  # fmt: skip
    _cli(stack, *boot, "--port", "kept", "vm-port")
    shown = demo(stack, "server", "show", "vm-nic")
    assert shown["addresses"] == {"web-net": ["10.30.0.30"]}, shown["addresses"]
    assert {g["name"] for g in shown["security_groups"]} == {"web"}
    assert demo(stack, "server", "show", "vm-port")["addresses"] == {"web-net": ["10.30.0.20"]}
    listed = {s["Name"]: s["Networks"] for s in demo(stack, "server", "list")}
    assert listed["vm-nic"] == {"web-net": ["10.30.0.30"]}
    assert listed["vm-net"]["web-net"][0].startswith("10.30.0.")
    ports = demo(stack, "port", "list", "--server", "vm-port")
    assert [p["Name"] for p in ports] == ["kept"]
    if wired:
        network = stack.sdk("stratus-demo").network
        web_net = network.find_network("web-net", ignore_missing=False).id
        until(
            "the agents wiring the servers' ports",
            lambda: {p.status for p in network.ports(network_id=web_net) if p.name} == {"ACTIVE"},
            60,
        )

    # Interfaces on a running server (os-interface).
    _cli(stack, "server", "add", "network", "vm-net", "db-net")
    extra = demo(stack, "port", "create", "--network", "web-net", "extra")
    _cli(stack, "server", "add", "port", "vm-net", "extra")
    attached = demo(stack, "server", "show", "vm-net")["addresses"]
    assert set(attached) == {"web-net", "db-net"} and len(attached["web-net"]) == 2
    _cli(stack, "server", "remove", "port", "vm-net", "extra")
    _cli(stack, "server", "remove", "network", "vm-net", "db-net")
    assert set(demo(stack, "server", "show", "vm-net")["addresses"]) == {"web-net"}
    assert demo(stack, "port", "show", extra["id"])["device_id"] == ""

    # A floating IP from the external network, on a server's port.
    floating = demo(stack, "floating", "ip", "create", "public")["floating_ip_address"]
    _cli(stack, "server", "add", "floating", "ip", "vm-nic", floating)
    found = demo(stack, "floating", "ip", "list")
    assert [(f["Floating IP Address"], f["Fixed IP Address"]) for f in found] == [
        (floating, "10.30.0.30")
    ]
    _cli(stack, "floating", "ip", "unset", "--port", floating)
    _cli(stack, "floating", "ip", "set", "--port", "kept", floating)
    assert demo(stack, "floating", "ip", "show", floating)["fixed_ip_address"] == "10.30.0.20"
    _cli(stack, "floating", "ip", "delete", floating)

    # The network quotas: set by the admin (not below the usage: the CLI asks Neutron to
    # check), shown, enforced. The demo project has private, web-net and db-net.
    demo_id = net["project_id"]
    _cli(stack, "quota", "set", "--networks", "3", "--ports", "30", demo_id, cloud="stratus")
    quota = {r["Resource"]: r["Limit"] for r in admin(stack, "quota", "show", demo_id)}
    assert quota["networks"] == 3 and quota["ports"] == 30
    assert "Quota exceeded" in _cli(stack, "network", "create", "third", ok=False)
    _cli(stack, "quota", "delete", demo_id, cloud="stratus")

    # A network with ports cannot go; a server's own ports go with it, a passed-in one stays.
    assert "409" in _cli(stack, "network", "delete", "web-net", ok=False)
    _cli(stack, "server", "delete", "--wait", "vm-net", "vm-nic", "vm-port")
    left = demo(stack, "port", "list", "--network", "web-net", "--device-owner", "")
    assert {p["Name"] for p in left} >= {"kept", "extra"}
    assert demo(stack, "port", "show", "kept")["device_id"] == ""
    _cli(stack, "port", "delete", "kept", "extra")
    _cli(stack, "security", "group", "delete", group["id"])
    _cli(stack, "network", "delete", "web-net", "db-net")
    names = {n["Name"] for n in demo(stack, "network", "list")}
    assert not names & {"web-net", "db-net"}
