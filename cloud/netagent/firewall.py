"""Security groups as nftables rules, one table per port (Neutron's hybrid plugging).

Frames through Open vSwitch's userspace datapath never meet netfilter, so each port has
its own Linux bridge between the guest's device and br-int (`tap` -- `qbr` -- `qvb`/`qvo`,
as Neutron's iptables_hybrid driver); with bridge-nf-call-iptables on, frames crossing
that bridge go through the inet family's forward hook, with connection tracking, and
their in/out device is the port's bridge. A port's table `inet stratus-port-<port>` holds:
ingress (frames to its MAC): established and DHCP replies, the groups' ingress rules,
then drop; egress (frames from its MAC): established and DHCP requests, no spoofed
source address, the groups' egress rules, then drop. Replaced in one `nft -f`
transaction, so a port is never left half-filtered.
"""

import json
import re

from cloud.netagent.shell import run
from cloud.netagent.specs import Port, SecurityRule

TABLE_PREFIX = "stratus-port-"
PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}


def table_name(port: Port) -> str:
    return f"{TABLE_PREFIX}{port.short}"


def _rule(rule: SecurityRule) -> str:
    parts = []
    family = "ip6" if rule.ethertype == "IPv6" else "ip"
    parts.append(f"meta nfproto {'ipv6' if family == 'ip6' else 'ipv4'}")
    if rule.remote_ip_prefix:
        side = "saddr" if rule.direction == "ingress" else "daddr"
        parts.append(f"{family} {side} {rule.remote_ip_prefix}")
    proto = (rule.protocol or "").lower()
    name = PROTOCOLS.get(proto)
    if proto in ("icmpv6", "ipv6-icmp", "58"):
        parts.append("meta l4proto ipv6-icmp")
    elif name in ("tcp", "udp"):
        if rule.port_range_min is not None:
            high = rule.port_range_max if rule.port_range_max is not None else rule.port_range_min
            ports = str(rule.port_range_min)
            if high != rule.port_range_min:
                ports = f"{rule.port_range_min}-{high}"
            parts.append(f"{name} dport {ports}")
        else:
            parts.append(f"meta l4proto {name}")
    elif name == "icmp":
        parts.append("meta l4proto icmp")
        if rule.port_range_min is not None:
            parts.append(f"icmp type {rule.port_range_min}")
            if rule.port_range_max is not None:
                parts.append(f"icmp code {rule.port_range_max}")
    elif proto and re.fullmatch(r"[0-9]{1,3}", proto):
        parts.append(f"meta l4proto {proto}")
    elif proto:
        raise ValueError(f"security group rule protocol {rule.protocol!r} is not supported")
    return " ".join(parts) + " accept"


def render(port: Port) -> str:
    """The port's table, in nft's own syntax."""
    assert port.security_rules is not None
    bridge, mac = port.qbr, port.mac_address
    table = table_name(port)
    ingress = [_rule(r) for r in port.security_rules if r.direction == "ingress"]
    egress = [_rule(r) for r in port.security_rules if r.direction == "egress"]
    own = [f.ip_address for f in port.fixed_ips if ":" not in f.ip_address]
    own += [ip for ip in port.allowed_ips if ":" not in ip]
    spoof = f"ip saddr != {{ {', '.join(own)} }} drop" if own else "meta nfproto ipv4 drop"
    body = "\n".join(
        [
            f"table inet {table} {{",
            "  chain forward {",
            "    type filter hook forward priority 0; policy accept;",
            f'    iifname "{bridge}" ether daddr {mac} jump ingress',
            f'    iifname "{bridge}" ether saddr {mac} jump egress',
            "  }",
            "  chain ingress {",
            "    ct state established,related accept",
            "    ct state invalid drop",
            "    udp sport 67 udp dport 68 accept",
            *(f"    {line}" for line in ingress),
            "    drop",
            "  }",
            "  chain egress {",
            "    ct state established,related accept",
            "    udp sport 68 udp dport 67 accept",
            f"    {spoof}",
            *(f"    {line}" for line in egress),
            "    drop",
            "  }",
            "}",
        ]
    )
    # Declare (a no-op when it exists), delete, define: one transaction, idempotent.
    return f"table inet {table}\ndelete table inet {table}\n{body}\n"


def apply(port: Port) -> None:
    if port.security_rules is None:
        remove(port.short)
        return
    run(["nft", "-f", "-"], input=render(port))


def remove(short: str) -> None:
    run(["nft", "delete", "table", "inet", f"{TABLE_PREFIX}{short}"], check=False)


def tables() -> set[str]:
    """The port shorts that have a table on this host."""
    out = run(["nft", "-j", "list", "tables", "inet"], check=False)
    if not out:
        return set()
    names = {item["table"]["name"] for item in json.loads(out)["nftables"] if "table" in item}
    return {n[len(TABLE_PREFIX) :] for n in names if n.startswith(TABLE_PREFIX)}
