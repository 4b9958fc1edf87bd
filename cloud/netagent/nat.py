"""Floating IPs: NAT in a router namespace on the host of the port (distributed).

Like Neutron's DVR: namespace `qrouter-<internal network>` on each host with a floating
IP of that network, a leg on the internal network's VLAN holding the subnet's gateway
address (`qr-`, the same address and MAC on every host) and a leg on the external
network's VLAN (`qg-`) holding this host's floating IPs. nftables in the namespace
DNATs a floating IP to its fixed IP on the way in and SNATs it on the way out (rebuilt
in one `nft -f` transaction on each change). So that the gateway's address lives on
several hosts at once, each host's guests reach their own router only: flows on br-int
(cookie per network) drop, as they come in on the trunk, ARP requests for the gateway
and frames from the gateway's MAC.
"""

import hashlib
import ipaddress

from cloud.netagent import linux
from cloud.netagent.ovs import Switch
from cloud.netagent.shell import run
from cloud.netagent.specs import FloatingIP, Network

TABLE = "stratus-nat"


def router_mac(network_id: str) -> str:
    """The gateway's MAC on a network: the same on every host, locally administered."""
    digest = hashlib.sha256(network_id.encode()).digest()
    return "fa:16:3f:" + ":".join(f"{b:02x}" for b in digest[:3])


def gateway_of(network: Network, fixed_ip: str) -> str | None:
    """The gateway (ip/prefix) of the subnet of `network` holding `fixed_ip`."""
    address = ipaddress.ip_address(fixed_ip)
    for subnet in network.subnets:
        net = ipaddress.ip_network(subnet.cidr)
        if address in net and subnet.gateway_ip:
            return f"{subnet.gateway_ip}/{net.prefixlen}"
    return None


class Router:
    """The router namespace of one internal network on this host."""

    def __init__(
        self, switch: Switch, netns_prefix: str, internal_network_id: str, trunk: str = ""
    ) -> None:
        self.switch = switch
        self.network_id = internal_network_id
        self.trunk = trunk
        short = internal_network_id[:11]
        self.netns = f"{netns_prefix}qrouter-{internal_network_id}"
        self.internal_port, self.internal_device = f"qro{short}", f"qr-{short}"
        self.external_port, self.external_device = f"qgo{short}", f"qg-{short}"
        self.cookie = int.from_bytes(hashlib.sha256(internal_network_id.encode()).digest()[:6])

    def ensure(self, network: Network | None, floating_ips: list[FloatingIP]) -> None:
        """The namespace, both legs and the NAT rules of `floating_ips` (all of this
        router's; none left, or the network gone, removes the router)."""
        gateway = (
            gateway_of(network, floating_ips[0].fixed_ip) if network and floating_ips else None
        )
        if gateway is None:
            self.remove()
            return
        first = floating_ips[0]
        linux.netns_ensure(self.netns)
        linux.sysctl_set("net.ipv4.ip_forward", "1", self.netns)
        linux.veth_ensure(self.internal_port, self.internal_device, self.netns)
        linux.veth_ensure(self.external_port, self.external_device, self.netns)
        mac = router_mac(self.network_id)
        linux.set_mac(self.internal_device, mac, self.netns)
        owner = f"router:{self.network_id}"
        self.switch.access_port_ensure(self.internal_port, first.internal_vlan, owner)
        self.switch.access_port_ensure(self.external_port, first.external_vlan, owner)
        self._address_set(self.internal_device, {gateway})
        self._address_set(self.external_device, {f"{f.floating_ip}/32" for f in floating_ips})
        external = ipaddress.ip_interface(f"{first.floating_ip}/{first.external_prefixlen}")
        run(
            ["ip", "route", "replace", str(external.network), "dev", self.external_device],
            netns=self.netns,
        )
        if first.external_gateway:
            linux.default_route_ensure(first.external_gateway, self.netns)
        run(["nft", "-f", "-"], netns=self.netns, input=self.render(floating_ips))
        if self.trunk:
            trunk = self.switch.port_ofport(self.trunk)
            ip = gateway.split("/")[0]
            self.switch.flows_replace(
                self.cookie,
                [
                    f"priority=100,in_port={trunk},dl_vlan={first.internal_vlan},arp,"
                    f"arp_tpa={ip},actions=drop",
                    f"priority=100,in_port={trunk},dl_src={mac},actions=drop",
                ],
            )

    def _address_set(self, device: str, wanted: set[str]) -> None:
        for cidr in linux.addresses(device, self.netns):
            if cidr not in wanted:
                linux.address_delete(device, cidr, self.netns)
        for cidr in sorted(wanted):
            linux.address_ensure(device, cidr, self.netns)

    def render(self, floating_ips: list[FloatingIP]) -> str:
        dnat = [f"    ip daddr {f.floating_ip} dnat to {f.fixed_ip}" for f in floating_ips]
        snat = [
            f'    oifname "{self.external_device}" ip saddr {f.fixed_ip} snat to {f.floating_ip}'
            for f in floating_ips
        ]
        return "\n".join(
            [
                f"table ip {TABLE}",
                f"delete table ip {TABLE}",
                f"table ip {TABLE} {{",
                "  chain prerouting {",
                "    type nat hook prerouting priority -100; policy accept;",
                *dnat,
                "  }",
                "  chain postrouting {",
                "    type nat hook postrouting priority 100; policy accept;",
                *snat,
                "  }",
                "}",
                "",
            ]
        )

    def remove(self) -> None:
        self.switch.ofctl("del-flows", f"cookie={self.cookie:#x}/-1")
        for port in (self.internal_port, self.external_port):
            self.switch.port_delete(port)
            linux.link_delete(port)
        linux.netns_delete(self.netns)
