"""A DHCP server per network: dnsmasq in its own namespace on the network's VLAN.

Like Neutron's DHCP agent: namespace `qdhcp-<network>`, joined to br-int by a veth pair
(`dhcp<net>` on the bridge, access port of the VLAN; `ns-<net>` inside, with the DHCP
port's MAC and addresses). dnsmasq answers only the MACs of its hosts file (`static`
ranges), one MAC,IP line per port, and re-reads that file on SIGHUP: a port bound or
unbound is a rewrite and a signal, never a restart.
"""

import ipaddress
import logging
import os
import signal
from pathlib import Path

from cloud.netagent import linux
from cloud.netagent.ovs import Switch
from cloud.netagent.shell import CommandError, run
from cloud.netagent.specs import Network

log = logging.getLogger(__name__)

LEASE_TIME = "12h"


class DhcpServer:
    """The DHCP server of one network on this host."""

    def __init__(self, switch: Switch, state_path: Path, netns_prefix: str, network_id: str):
        self.switch = switch
        self.network_id = network_id
        self.netns = f"{netns_prefix}qdhcp-{network_id}"
        self.bridge_port = f"dhcp{network_id[:10]}"
        self.device = f"ns-{network_id[:11]}"
        self.dir = state_path / "dhcp" / network_id
        self.hosts_file = self.dir / "hosts"
        self.opts_file = self.dir / "opts"
        self.pid_file = self.dir / "pid"
        self.leases_file = self.dir / "leases"

    def ensure(self, network: Network, hosts: list[tuple[str, str]]) -> None:
        """Namespace, port, addresses and a running dnsmasq serving `hosts` (MAC, IP)."""
        linux.netns_ensure(self.netns)
        linux.veth_ensure(self.bridge_port, self.device, self.netns)
        if network.dhcp_mac:
            linux.set_mac(self.device, network.dhcp_mac, self.netns)
        wanted = set(network.dhcp_addresses)
        for cidr in linux.addresses(self.device, self.netns):
            if cidr not in wanted:
                linux.address_delete(self.device, cidr, self.netns)
        for cidr in wanted:
            linux.address_ensure(self.device, cidr, self.netns)
        self.switch.access_port_ensure(
            self.bridge_port, network.vlan, f"dhcp:{network.id}", network=network.id
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_opts(network)
        self.write_hosts(hosts)
        pid = self.pid()
        if pid is None:
            self._start(network)
        else:
            os.kill(pid, signal.SIGHUP)

    def write_hosts(self, hosts: list[tuple[str, str]]) -> None:
        """The hosts file, replaced atomically (dnsmasq may be reading the old one)."""
        lines = "".join(f"{mac},{ip}\n" for mac, ip in sorted(set(hosts)))
        tmp = self.hosts_file.with_suffix(".tmp")
        tmp.write_text(lines)
        tmp.replace(self.hosts_file)

    def reload(self, hosts: list[tuple[str, str]]) -> None:
        self.write_hosts(hosts)
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)

    def _write_opts(self, network: Network) -> None:
        lines = []
        for index, subnet in enumerate(s for s in network.subnets if s.enable_dhcp):
            tag = f"subnet{index}"
            # An empty router option tells the guest there is no gateway.
            lines.append(
                f"tag:{tag},option:router{',' + subnet.gateway_ip if subnet.gateway_ip else ''}"
            )
            if subnet.dns_nameservers:
                lines.append(f"tag:{tag},option:dns-server,{','.join(subnet.dns_nameservers)}")
        lines.append(f"option:mtu,{network.mtu}")
        self.opts_file.write_text("".join(line + "\n" for line in lines))

    def _start(self, network: Network) -> None:
        ranges = []
        for index, subnet in enumerate(s for s in network.subnets if s.enable_dhcp):
            net = ipaddress.ip_network(subnet.cidr)
            ranges.append(
                f"--dhcp-range=set:subnet{index},{net.network_address},static,"
                f"{net.netmask},{LEASE_TIME}"
            )
        if not ranges:
            return
        argv = [
            "dnsmasq",
            "--no-hosts",
            "--no-resolv",
            # DHCP only: guests resolve names through the subnet's DNS servers.
            "--port=0",
            "--bind-interfaces",
            f"--interface={self.device}",
            "--except-interface=lo",
            f"--pid-file={self.pid_file}",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-optsfile={self.opts_file}",
            f"--dhcp-leasefile={self.leases_file}",
            "--dhcp-authoritative",
            # The agent's files live in its own state directory: dnsmasq keeps root
            # rather than dropping to `nobody`, who may not reach them.
            "--user=root",
            "--group=root",
            *ranges,
        ]
        run(argv, netns=self.netns)
        log.info("dhcp: dnsmasq for network %s started in %s", network.id, self.netns)

    def pid(self) -> int | None:
        """dnsmasq's pid when it runs (its pid file names a live dnsmasq)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"dnsmasq" in cmdline and str(self.pid_file).encode() in cmdline else None

    def remove(self) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        try:
            self.switch.port_delete(self.bridge_port)
        except CommandError:
            log.exception("dhcp: removing port %s", self.bridge_port)
        linux.link_delete(self.bridge_port)
        linux.netns_delete(self.netns)
        for path in (self.hosts_file, self.opts_file, self.pid_file, self.leases_file):
            path.unlink(missing_ok=True)
        if self.dir.exists():
            self.dir.rmdir()
