"""The control plane's messages (cloud.payloads, 1.7) as the agent's host specs."""

from cloud.netagent.specs import (
    FLAT_TAG,
    FixedIP,
    FloatingIP,
    Network,
    Port,
    SecurityRule,
    Subnet,
)
from cloud.payloads import FloatingIPMapping, NetworkSetup, PortBinding


def tag(segmentation_id: int | None) -> int:
    """The tag on br-int: the VLAN id, or the trunk's native VLAN for a flat network."""
    return FLAT_TAG if segmentation_id is None else int(segmentation_id)


def network(msg: NetworkSetup) -> Network:
    subnets = tuple(
        Subnet(
            id=s["id"],
            cidr=s["cidr"],
            gateway_ip=s.get("gateway_ip"),
            dns_nameservers=tuple(s.get("dns_nameservers") or ()),
            enable_dhcp=bool(s.get("enable_dhcp", True)) and s.get("ip_version", 4) == 4,
        )
        for s in msg.subnets
    )
    prefixes = {s.id: s.cidr.split("/")[1] for s in subnets}
    dhcp = msg.dhcp_port or {}
    addresses = tuple(
        f"{f['ip_address']}/{f.get('prefixlen') or prefixes.get(f['subnet_id'], '32')}"
        for f in dhcp.get("fixed_ips", ())
        if ":" not in f["ip_address"]
    )
    return Network(
        id=msg.network_id,
        vlan=tag(msg.segmentation_id if msg.network_type == "vlan" else None),
        subnets=subnets,
        mtu=msg.mtu,
        dhcp_mac=(dhcp.get("mac_address") or "").lower() or None,
        dhcp_addresses=addresses,
        hosts=tuple(
            (h["mac_address"].lower(), h["ip_address"])
            for h in msg.dhcp_hosts
            if ":" not in h["ip_address"]
        ),
    )


def rules(msg: PortBinding) -> tuple[SecurityRule, ...] | None:
    """The port's rules, one per remote prefix; None when port security is off."""
    if not msg.port_security_enabled:
        return None
    out = []
    for rule in msg.security_group_rules:
        prefixes = rule.get("remote_ip_prefixes") or [None]
        for prefix in prefixes:
            out.append(
                SecurityRule(
                    direction=rule["direction"],
                    ethertype=rule.get("ethertype") or "IPv4",
                    protocol=rule.get("protocol"),
                    port_range_min=rule.get("port_range_min"),
                    port_range_max=rule.get("port_range_max"),
                    remote_ip_prefix=prefix,
                )
            )
    return tuple(out)


def port(msg: PortBinding) -> Port:
    return Port(
        id=msg.port_id,
        network_id=msg.network_id,
        mac_address=msg.mac_address.lower(),
        fixed_ips=tuple(
            FixedIP(subnet_id=f.get("subnet_id", ""), ip_address=f["ip_address"])
            for f in msg.fixed_ips
        ),
        security_rules=rules(msg),
        device_id=msg.instance_uuid,
        allowed_ips=tuple(p["ip_address"] for p in msg.allowed_address_pairs),
        devname=msg.devname,
    )


def segment(msg: PortBinding) -> int | None:
    """The binding's VLAN id, None for a flat network."""
    return msg.segmentation_id if msg.network_type == "vlan" else None


def floating_ip(msg: FloatingIPMapping) -> FloatingIP:
    return FloatingIP(
        floating_ip=msg.floating_ip_address,
        fixed_ip=msg.fixed_ip_address,
        port_id=msg.port_id,
        external_network_id=msg.floating_network_id,
        external_vlan=tag(msg.floating_segmentation_id),
        external_prefixlen=msg.floating_prefixlen,
        internal_network_id=msg.network_id,
        internal_vlan=tag(msg.segmentation_id),
        external_gateway=msg.floating_gateway_ip,
    )
