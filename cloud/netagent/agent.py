"""The network agent: what a message asks of the host, done idempotently, and saved.

Every change is applied to the host and then recorded in the agent's state file, so
that the re-sync at start (after a crash, a reboot, a lost namespace) puts back exactly
what the control plane last asked for, and takes away what the agent made but no
longer knows (ports, firewall tables, namespaces with its prefix).
"""

import functools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from cloud.netagent import firewall, linux
from cloud.netagent.config import AgentConfig
from cloud.netagent.dhcp import DhcpServer
from cloud.netagent.nat import Router
from cloud.netagent.ovs import Switch
from cloud.netagent.shell import CommandError
from cloud.netagent.specs import FloatingIP, HostState, Network, Port

log = logging.getLogger(__name__)

# (port id, status "ACTIVE" | "DOWN", message): the agent's report on a port.
Reporter = Callable[[str, str, str], None]


def _serialised(method):
    """One host change at a time: the tasks and the guest-device watcher share the host."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class NetworkAgent:
    def __init__(self, config: AgentConfig, report: Reporter) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.report = report
        self.switch = Switch(config.ovsdb, config.integration_bridge)
        self.state_file = config.state_path / "state.json"
        self.state = HostState()

    # -- state -------------------------------------------------------------------------

    def load(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return
        self.state = HostState(
            networks={k: Network.from_dict(v) for k, v in data.get("networks", {}).items()},
            ports={k: Port.from_dict(v) for k, v in data.get("ports", {}).items()},
            floating_ips={
                k: FloatingIP.from_dict(v) for k, v in data.get("floating_ips", {}).items()
            },
        )

    def save(self) -> None:
        self.config.state_path.mkdir(parents=True, exist_ok=True)
        data = {
            "networks": {k: v.to_dict() for k, v in self.state.networks.items()},
            "ports": {k: v.to_dict() for k, v in self.state.ports.items()},
            "floating_ips": {k: v.to_dict() for k, v in self.state.floating_ips.items()},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.state_file)

    # -- the host ----------------------------------------------------------------------

    @_serialised
    def start(self) -> None:
        """The bridge, the trunk, netfilter on bridged frames; then the re-sync."""
        self.switch.bridge_ensure()
        if self.config.trunk_interface:
            linux.link_up(self.config.trunk_interface)
            self.switch.trunk_ensure(self.config.trunk_interface)
        # Frames crossing a port's own Linux bridge go through nftables' inet hooks.
        linux.sysctl_set("net.bridge.bridge-nf-call-iptables", "1")
        linux.sysctl_set("net.bridge.bridge-nf-call-ip6tables", "1")
        self.load()
        self.resync()

    def resync(self) -> None:
        """Put back everything the state holds; remove what the agent made and forgot."""
        for network in list(self.state.networks.values()):
            self._apply_network(network)
        for port in list(self.state.ports.values()):
            try:
                self._apply_port(port)
            except CommandError as exc:
                log.exception("resync: port %s", port.id)
                self.report(port.id, "DOWN", str(exc))
            else:
                self.report(port.id, "ACTIVE", "")
        for network_id in {f.internal_network_id for f in self.state.floating_ips.values()}:
            self._apply_router(network_id)
        self._remove_strays()
        log.info(
            "resync on %s: %d networks, %d ports, %d floating IPs",
            self.config.host,
            len(self.state.networks),
            len(self.state.ports),
            len(self.state.floating_ips),
        )

    def _remove_strays(self) -> None:
        known_ports = {p.short for p in self.state.ports.values()}
        for name, owner in self.switch.owned_ports().items():
            if owner == "trunk":
                continue
            kind, _, ident = owner.partition(":")
            gone = (
                (kind == "dhcp" and ident not in self.state.networks)
                or (kind == "router" and not self._router_fips(ident))
                or (kind == "port" and ident not in self.state.ports)
            )
            if gone:
                log.info("resync: removing stray port %s (%s)", name, owner)
                self.switch.port_delete(name)
                linux.link_delete(name)
        for short in firewall.tables() - known_ports:
            firewall.remove(short)
        prefix = self.config.netns_prefix
        for ns in linux.netns_list(f"{prefix}qdhcp-"):
            network_id = ns[len(f"{prefix}qdhcp-") :]
            if network_id not in self.state.networks:
                self._dhcp(network_id).remove()
        for ns in linux.netns_list(f"{prefix}qrouter-"):
            network_id = ns[len(f"{prefix}qrouter-") :]
            if not self._router_fips(network_id):
                self._router(network_id).remove()

    # -- networks ----------------------------------------------------------------------

    @_serialised
    def network_setup(self, network: Network) -> None:
        self.state.networks[network.id] = network
        self._apply_network(network)
        # A network's VLAN is its ports' tag.
        for port in self._ports_of(network.id):
            self.switch.access_port_ensure(port.qvo, network.vlan, f"port:{port.id}")
        self.save()

    @_serialised
    def network_teardown(self, network_id: str) -> None:
        for port in self._ports_of(network_id):
            self.port_unbind(port.id)
        for address, fip in list(self.state.floating_ips.items()):
            if network_id in (fip.internal_network_id, fip.external_network_id):
                del self.state.floating_ips[address]
                self._apply_router(fip.internal_network_id)
        self._dhcp(network_id).remove()
        self.state.networks.pop(network_id, None)
        self.save()

    def _apply_network(self, network: Network) -> None:
        dhcp = self._dhcp(network.id)
        serves = network.dhcp_addresses and any(s.enable_dhcp for s in network.subnets)
        if serves:
            dhcp.ensure(network, self._dhcp_hosts(network))
        else:
            dhcp.remove()

    def _dhcp(self, network_id: str) -> DhcpServer:
        return DhcpServer(self.switch, self.config.state_path, self.config.netns_prefix, network_id)

    def _dhcp_hosts(self, network: Network) -> list[tuple[str, str]]:
        hosts = list(network.hosts)
        for port in self._ports_of(network.id):
            hosts += [(port.mac_address, f.ip_address) for f in port.fixed_ips]
        return hosts

    def _ports_of(self, network_id: str) -> list[Port]:
        return [p for p in self.state.ports.values() if p.network_id == network_id]

    def _reload_dhcp(self, network_id: str) -> None:
        network = self.state.networks.get(network_id)
        if network is not None and network.dhcp_addresses:
            self._dhcp(network_id).reload(self._dhcp_hosts(network))

    # -- ports -------------------------------------------------------------------------

    @_serialised
    def port_bind(self, port: Port, vlan: int) -> None:
        """Wire `port` on this host, on its network's tag `vlan` (a binding may come before
        its network's setup: the network is then known by its tag until the setup comes).
        The port's status goes back to the control plane either way."""
        network = self.state.networks.get(port.network_id)
        if network is None or network.vlan != vlan:
            network = replace(network, vlan=vlan) if network else Network(port.network_id, vlan)
            self.state.networks[network.id] = network
        self.state.ports[port.id] = port
        self.save()
        try:
            self._apply_port(port)
            self._reload_dhcp(port.network_id)
        except CommandError as exc:
            self.report(port.id, "DOWN", str(exc))
            raise
        self.report(port.id, "ACTIVE", "")

    def _apply_port(self, port: Port) -> None:
        network = self.state.networks[port.network_id]
        linux.bridge_ensure(port.qbr)
        linux.veth_ensure(port.qvo, port.qvb)
        linux.set_master(port.qvb, port.qbr)
        if linux.link_exists(port.tap):
            # The guest is already there (a re-sync, or a guest started before the bind);
            # one that starts later is plugged by the watcher (plug_guest_devices).
            self._plug_guest(port)
        firewall.apply(port)
        self.switch.access_port_ensure(
            port.qvo,
            network.vlan,
            f"port:{port.id}",
            **{"iface-id": port.id, "attached-mac": port.mac_address},
        )

    @_serialised
    def plug_guest_devices(self) -> int:
        """Put each bound port's guest device (it appears when its guest starts, before or
        after the binding) into the port's bridge; how many were plugged now."""
        plugged = 0
        for port in list(self.state.ports.values()):
            if linux.link_exists(port.tap) and linux.master_of(port.tap) != port.qbr:
                self._plug_guest(port)
                plugged += 1
        return plugged

    def _plug_guest(self, port: Port) -> None:
        # A tap put straight on br-int would be an untagged (trunk) port there, unfiltered:
        # it moves to the port's bridge.
        self.switch.port_delete(port.tap)
        linux.set_master(port.tap, port.qbr)
        log.info("port %s: guest device %s plugged into %s", port.id, port.tap, port.qbr)

    @_serialised
    def port_unbind(self, port_id: str) -> None:
        port = self.state.ports.pop(port_id, None)
        short = port.short if port else port_id[:11]
        self.switch.port_delete(f"qvo{short}")
        linux.link_delete(f"qvo{short}")
        firewall.remove(short)
        linux.link_delete(f"qbr{short}")
        self.save()
        if port is not None:
            self._reload_dhcp(port.network_id)
        self.report(port_id, "DOWN", "unbound")

    # -- floating IPs ------------------------------------------------------------------

    @_serialised
    def floating_ip_set(self, fip: FloatingIP) -> None:
        self.state.floating_ips[fip.floating_ip] = fip
        self._apply_router(fip.internal_network_id)
        self.save()

    @_serialised
    def floating_ip_unset(self, floating_ip: str) -> None:
        fip = self.state.floating_ips.pop(floating_ip, None)
        if fip is not None:
            self._apply_router(fip.internal_network_id)
        self.save()

    def _router_fips(self, network_id: str) -> list[FloatingIP]:
        return sorted(
            (f for f in self.state.floating_ips.values() if f.internal_network_id == network_id),
            key=lambda f: f.floating_ip,
        )

    def _router(self, network_id: str) -> Router:
        return Router(
            self.switch, self.config.netns_prefix, network_id, self.config.trunk_interface
        )

    def _apply_router(self, network_id: str) -> None:
        network = self.state.networks.get(network_id)
        self._router(network_id).ensure(network, self._router_fips(network_id))
