"""What the agent is asked to make of its host, as plain frozen dataclasses.

The tasks turn the control plane's messages (cloud.payloads) into these; the host
layer (ovs, dhcp, firewall, nat) and the agent's saved state (for the re-sync at start)
take and keep only these. JSON-able both ways (`to_dict` / `from_dict`).
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Self

# The tag on br-int of a flat (untagged) network: the trunk carries it untagged.
FLAT_TAG = 4094


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    enable_dhcp: bool = True


@dataclass(frozen=True)
class FixedIP:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True)
class SecurityRule:
    """One security group rule, resolved: a remote group arrives as its members' prefixes."""

    direction: str  # "ingress" | "egress"
    ethertype: str = "IPv4"
    protocol: str | None = None  # "tcp" | "udp" | "icmp" | None (any)
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None


@dataclass(frozen=True)
class Network:
    """A network as one host sees it: its VLAN on br-int and, when this host serves
    DHCP for it, the DHCP port's MAC and addresses (ip/prefix, one per DHCP subnet)."""

    id: str
    # The network's tag on br-int: its VLAN id, or FLAT_TAG for a flat network (the
    # trunk's native, untagged VLAN).
    vlan: int
    subnets: tuple[Subnet, ...] = ()
    mtu: int = 1500
    dhcp_mac: str | None = None
    dhcp_addresses: tuple[str, ...] = ()
    # MAC -> IP pairs dnsmasq hands out besides the ports bound on this host.
    hosts: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            id=data["id"],
            vlan=int(data["vlan"]),
            subnets=tuple(
                Subnet(**{**s, "dns_nameservers": tuple(s.get("dns_nameservers", ()))})
                for s in data.get("subnets", ())
            ),
            mtu=int(data.get("mtu", 1500)),
            dhcp_mac=data.get("dhcp_mac"),
            dhcp_addresses=tuple(data.get("dhcp_addresses", ())),
            hosts=tuple((m, ip) for m, ip in data.get("hosts", ())),
        )


@dataclass(frozen=True)
class Port:
    """A port bound on this host: its device name is derived from its id (Neutron's)."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIP, ...] = ()
    # None: port security off (no filtering at all), else the ports' groups' rules.
    security_rules: tuple[SecurityRule, ...] | None = ()
    device_id: str = ""
    # Addresses it may send from besides its fixed IPs (allowed address pairs).
    allowed_ips: tuple[str, ...] = ()
    # The guest's device as the control plane named it ("" for Neutron's tap<id[:11]>).
    devname: str = ""

    @property
    def short(self) -> str:
        return self.id[:11]

    @property
    def tap(self) -> str:
        """The guest's device (libvirt's tap, or a veth end in tests)."""
        return self.devname or f"tap{self.short}"

    @property
    def qbr(self) -> str:
        """The port's own Linux bridge, where its nftables rules apply."""
        return f"qbr{self.short}"

    @property
    def qvb(self) -> str:
        return f"qvb{self.short}"

    @property
    def qvo(self) -> str:
        """The veth end on br-int, tagged with the network's VLAN."""
        return f"qvo{self.short}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        rules = data.get("security_rules", ())
        return cls(
            id=data["id"],
            network_id=data["network_id"],
            mac_address=data["mac_address"].lower(),
            fixed_ips=tuple(FixedIP(**f) for f in data.get("fixed_ips", ())),
            security_rules=None if rules is None else tuple(SecurityRule(**r) for r in rules),
            device_id=data.get("device_id", ""),
            allowed_ips=tuple(data.get("allowed_ips", ())),
            devname=data.get("devname", ""),
        )


@dataclass(frozen=True)
class FloatingIP:
    """A floating IP on an external network, NATed to the fixed IP of a port of this
    host in the router namespace of the port's network on this host."""

    floating_ip: str
    fixed_ip: str
    port_id: str
    external_network_id: str
    external_vlan: int  # the external network's tag on br-int
    external_prefixlen: int
    internal_network_id: str
    internal_vlan: int
    external_gateway: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class HostState:
    """Everything the agent set up on its host, saved to disk after each change."""

    networks: dict[str, Network] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    floating_ips: dict[str, FloatingIP] = field(default_factory=dict)
