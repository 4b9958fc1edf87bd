"""Simulated network hosts on one machine, for the dev stack and the tests.

Each host is a network namespace with its own Open vSwitch (its own ovsdb-server and
ovs-vswitchd, started inside it by deploy/ovs-host.sh, database and sockets under the
host's directory), and its agent runs inside it. The hosts are joined by a "fabric": a
Linux bridge in a namespace of its own standing for the physical switch, with a veth
to each host's `trunk0`, which the agent makes br-int's trunk port. A Linux bridge
forwards 802.1Q-tagged frames as they are, so the fabric carries every VLAN, and
untagged frames (flat networks, e.g. an external one) too; an "outside" namespace on
the fabric untagged stands for the external network's router. The broker is reached
over a Unix socket (a namespace has its own loopback), so the Redis must listen on one.
"""

import contextlib
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cloud.netagent import linux
from cloud.netagent.shell import run

ROOT = Path(__file__).resolve().parents[2]
OVS_HOST = ROOT / "deploy" / "ovs-host.sh"
TRUNK = "trunk0"


class Fabric:
    def __init__(self, prefix: str, directory: Path, hosts: list[str]) -> None:
        self.prefix = prefix
        self.dir = directory
        self.hosts = list(hosts)
        self.fabric_ns = f"{prefix}fabric"

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def rundir(self, host: str) -> Path:
        return self.dir / host / "ovs"

    def up(self) -> None:
        """The fabric, each host's namespace, switch and trunk (idempotent)."""
        linux.netns_ensure(self.fabric_ns)
        if not linux.link_exists("fabric", self.fabric_ns):
            run(["ip", "link", "add", "fabric", "type", "bridge"], netns=self.fabric_ns)
        run(["ip", "link", "set", "fabric", "up"], netns=self.fabric_ns)
        for index, host in enumerate(self.hosts):
            ns = self.ns(host)
            subprocess.run(
                [str(OVS_HOST), "--rundir", str(self.rundir(host)), "--netns", ns],
                check=True,
                timeout=300,
                stdout=subprocess.DEVNULL,
            )
            self.plug(f"trunk-{index}", ns, TRUNK)

    def plug(self, fabric_end: str, netns: str, device: str) -> None:
        """A veth from the fabric's bridge to `device` in `netns` (untagged access)."""
        if not linux.link_exists(device, netns):
            run(
                ["ip", "link", "add", fabric_end, "netns", self.fabric_ns, "type", "veth",
                 "peer", "name", device, "netns", netns],
            )  # fmt: skip
        run(["ip", "link", "set", fabric_end, "master", "fabric", "up"], netns=self.fabric_ns)
        run(["ethtool", "-K", device, "tx", "off"], netns=netns, check=False)
        run(["ip", "link", "set", device, "up"], netns=netns)

    def agent_env(self, host: str) -> dict[str, str]:
        return {
            "NETWORK_AGENT_HOST": host,
            "OVS_DB": f"unix:{self.rundir(host)}/db.sock",
            "NETWORK_TRUNK_INTERFACE": TRUNK,
            "NETWORK_AGENT_STATE_PATH": str(self.dir / host / "state"),
            "NETWORK_NAMESPACE_PREFIX": f"{self.ns(host)}-",
        }

    def agent_argv(self, host: str, python: str, *celery_args: str) -> list[str]:
        return [
            "ip", "netns", "exec", self.ns(host),
            python, "-m", "celery", "-A", "cloud.netagent.app", "worker",
            "-P", "solo", "-Q", f"network.{host}", "-n", f"netagent-{host}@%h",
            "--without-mingle", "--without-gossip", *celery_args,
        ]  # fmt: skip

    def down(self) -> None:
        """Stop the switches and dnsmasqs of every host with a directory here (an earlier
        stack's on this directory too), several at a time, and delete every namespace
        of the prefix."""
        hosts = sorted({*self.hosts, *(path.parent.name for path in self.dir.glob("*/ovs"))})
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(self._host_down, hosts))
        for ns in linux.netns_list(self.prefix):
            linux.netns_delete(ns)

    def _host_down(self, host: str) -> None:
        subprocess.run(
            [str(OVS_HOST), "--stop", "--rundir", str(self.rundir(host))],
            check=False,
            timeout=60,
        )
        for pid_file in (self.dir / host / "state").glob("dhcp/*/pid"):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
