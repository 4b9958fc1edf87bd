"""Real connectivity between real QEMU guests, with the unmodified `openstack` CLI: two
guests of the demo project on its `private` network get their addresses from the host
agent's dnsmasq and ping each other; neither reaches another project's network.

Each guest is booted as a cloud user would: `--nic net-id=...,v4-fixed-ip=...` (both
addresses chosen up front, so both scripts are known before either guest exists and
the two boot at once) and `--user-data FILE --config-drive True`. The guest's init
(deploy/guest_image.py) leases each NIC with udhcpc, printing
`stratus-guest: eth0 <address>/<prefix>`, then runs the user data: a script that pings
the other guest until it answers, and (guest A) then pings the DHCP server of another
project's network, which has the same CIDR on another VLAN of the same switch and must
not answer. The agent only wires that network on this host when a port of it is bound
here, so the test binds one (`port create --host`, as an admin may).

The figures printed: create to each guest's lease, and to both pings answered.
"""

import json
import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

HOST = "qemu-1"
# On the demo project's seeded `private` network (10.0.0.0/24): far from the addresses
# IPAM hands out first, so nothing else on the stack has them.
ADDRESS = {"net-a": "10.0.0.201", "net-b": "10.0.0.202"}
# The other project's network: the same CIDR, its DHCP server in this pool.
OTHER_POOL = ("10.0.0.240", "10.0.0.250")

PING_PEER = """#!/bin/sh
# Ping {peer} until it answers (a minute at most); print the outcome on the console.
for try in $(seq 1 60); do
    if ping -c 1 -W 1 {peer} > /dev/null 2>&1; then
        echo "stratus-guest: ping {peer} answered (try $try)"
        break
    fi
    [ "$try" = 60 ] && echo "stratus-guest: ping {peer} unanswered"
done
"""
PING_OTHER = """for try in 1 2 3; do
    ping -c 1 -W 1 {other} > /dev/null 2>&1 && break
done && echo "stratus-guest: ping {other} answered" || echo "stratus-guest: ping {other} unanswered"
"""


def _json(stack: RunningStack, *args: str, cloud: str = "stratus"):
    return json.loads(stack.openstack("--os-cloud", cloud, *args, "-f", "json"))


def _console(stack: RunningStack, name: str) -> str:
    return stack.openstack("--os-cloud", "stratus-demo", "console", "log", "show", name)


def _other_network(stack: RunningStack) -> tuple[str, str]:
    """A network of the admin project with the demo network's CIDR, wired on this host
    (a port bound here): its id and its DHCP server's address there."""
    network = _json(stack, "network", "create", "netqemu-other")["id"]
    stack.openstack(
        "subnet", "create", "--network", network, "--subnet-range", "10.0.0.0/24",
        "--allocation-pool", f"start={OTHER_POOL[0]},end={OTHER_POOL[1]}", "netqemu-other",
    )  # fmt: skip
    stack.openstack("port", "create", "--network", network, "--host", HOST, "netqemu-other")
    deadline = time.monotonic() + 60
    while True:
        dhcp = _json(stack, "port", "list", "--network", network, "--device-owner", "network:dhcp")
        if dhcp and dhcp[0]["Fixed IP Addresses"]:
            return network, dhcp[0]["Fixed IP Addresses"][0]["ip_address"]
        assert time.monotonic() < deadline, f"no DHCP port on {network}: {dhcp}"
        time.sleep(0.5)


def test_two_guests_lease_their_addresses_and_ping_each_other_but_not_another_project(
    qemu_stack: RunningStack, tmp_path: Path
):
    stack = qemu_stack
    if HOST not in stack.network_agents():
        pytest.skip(
            "the QEMU host runs no network agent here (root and Open vSwitch needed: "
            "deploy/ovs-host.sh); see the stack's log"
        )
    other_network, other_dhcp = _other_network(stack)
    private = _json(stack, "network", "show", "private", cloud="stratus-demo")["id"]
    names = list(ADDRESS)
    scripts = {
        "net-a": PING_PEER.format(peer=ADDRESS["net-b"]) + PING_OTHER.format(other=other_dhcp),
        "net-b": PING_PEER.format(peer=ADDRESS["net-a"]),
    }
    started = time.monotonic()
    try:
        for name in names:
            (tmp_path / name).write_text(scripts[name])
            stack.openstack(
                "--os-cloud", "stratus-demo", "server", "create", "--image", "guest",
                "--flavor", "m1.tiny", "--nic", f"net-id={private},v4-fixed-ip={ADDRESS[name]}",
                "--config-drive", "True", "--user-data", str(tmp_path / name), name,
            )  # fmt: skip

        # Both boot at once; each console is read until the user data has finished.
        leased: dict[str, str] = {}
        done: dict[str, str] = {}
        deadline = time.monotonic() + 300
        while len(done) < len(names):
            for name in set(names) - set(done):
                log = _console(stack, name)
                lease = re.search(r"stratus-guest: eth0 (\S+)", log)
                if lease and name not in leased:
                    leased[name] = lease.group(1)
                    print(f"{name}: create to lease {time.monotonic() - started:.1f}s")
                if "stratus-guest: user-data exit" in log:
                    done[name] = log
            assert time.monotonic() < deadline, (
                "the guests never ran their user data:\n"
                + "\n".join(f"--- {name}\n{_console(stack, name)}" for name in names)
            )
            time.sleep(1)
        print(f"create to both pings answered: {time.monotonic() - started:.1f}s")

        for name in names:
            server = _json(stack, "server", "show", name, cloud="stratus-demo")
            host = _json(stack, "server", "show", server["id"])["OS-EXT-SRV-ATTR:host"]
            assert (server["status"], host) == ("ACTIVE", HOST)
            # What the guest leased is what the API gave it.
            assert server["addresses"] == {"private": [ADDRESS[name]]}, server["addresses"]
            assert leased[name] == f"{ADDRESS[name]}/24", done[name]
            assert "stratus-guest: network up" in done[name]
            assert "stratus-guest: user-data exit 0" in done[name], done[name]
        for name, peer in (("net-a", "net-b"), ("net-b", "net-a")):
            assert f"stratus-guest: ping {ADDRESS[peer]} answered" in done[name], done[name]
        # The other project's DHCP server is there on its VLAN, but not on this one.
        assert f"stratus-guest: ping {other_dhcp} unanswered" in done["net-a"], done["net-a"]
    finally:
        # One call for both: the two deletes wait together.
        stack.openstack("--os-cloud", "stratus-demo", "server", "delete", "--wait", *names)
        stack.openstack("port", "delete", "netqemu-other")
        stack.openstack("network", "delete", other_network)
