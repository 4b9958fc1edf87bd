"""Neutron's response bodies for networks, subnets, ports, security groups and their
rules, floating IPs (the attributes its API reference lists, with the extensions'
ones the clients show: provider, router:external, binding, port security)."""

from cloud.network.models import (
    FloatingIP,
    Network,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)


def _stamp(row) -> str:
    return row.strftime("%Y-%m-%dT%H:%M:%SZ")


def _common(row) -> dict:
    return {
        "id": str(row.id),
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "description": row.description,
        "tags": [],
        "created_at": _stamp(row.created_at),
        "updated_at": _stamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def network_body(network: Network) -> dict:
    return {
        **_common(network),
        "name": network.name,
        "admin_state_up": network.admin_state_up,
        "status": network.status,
        "subnets": [str(s.id) for s in network.subnets.all()],
        "shared": network.shared,
        "router:external": network.external,
        "is_default": False,
        "mtu": network.mtu,
        "port_security_enabled": network.port_security_enabled,
        "provider:network_type": network.network_type,
        "provider:physical_network": network.physical_network,
        "provider:segmentation_id": network.segmentation_id,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "qos_policy_id": None,
        "dns_domain": "",
    }


def subnet_body(subnet: Subnet) -> dict:
    return {
        **_common(subnet),
        "name": subnet.name,
        "network_id": str(subnet.network_id),
        "ip_version": subnet.ip_version,
        "cidr": subnet.cidr,
        "gateway_ip": subnet.gateway_ip,
        "enable_dhcp": subnet.enable_dhcp,
        "allocation_pools": list(subnet.allocation_pools),
        "dns_nameservers": list(subnet.dns_nameservers),
        "host_routes": list(subnet.host_routes),
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
        "dns_publish_fixed_ip": False,
    }


def port_body(port: Port) -> dict:
    bound = bool(port.binding_host)
    return {
        **_common(port),
        "name": port.name,
        "network_id": str(port.network_id),
        "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "device_id": port.device_id,
        "device_owner": port.device_owner,
        "fixed_ips": [
            {"subnet_id": str(f.subnet_id), "ip_address": f.ip_address}
            for f in port.fixed_ips.all()
        ],
        "security_groups": [str(g.id) for g in port.security_groups.all()],
        "allowed_address_pairs": list(port.allowed_address_pairs),
        "extra_dhcp_opts": [],
        "port_security_enabled": port.port_security_enabled,
        "binding:host_id": port.binding_host,
        "binding:vif_type": "ovs" if bound else "unbound",
        "binding:vif_details": {"port_filter": True, "ovs_hybrid_plug": False} if bound else {},
        "binding:vnic_type": "normal",
        "binding:profile": {},
        "dns_name": port.dns_name,
        "dns_assignment": [],
        "propagate_uplink_status": False,
        "qos_policy_id": None,
        "ip_allocation": "immediate",
    }


def rule_body(rule: SecurityGroupRule) -> dict:
    return {
        **_common(rule),
        "security_group_id": str(rule.security_group_id),
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": rule.remote_ip_prefix,
        "remote_group_id": str(rule.remote_group_id) if rule.remote_group_id else None,
        "remote_address_group_id": None,
        "belongs_to_default_sg": None,
    }


def security_group_body(group: SecurityGroup) -> dict:
    return {
        **_common(group),
        "name": group.name,
        "stateful": group.stateful,
        "shared": False,
        "security_group_rules": [rule_body(r) for r in group.rules.all()],
    }


def floating_ip_body(floating: FloatingIP) -> dict:
    port = floating.port
    return {
        **_common(floating),
        "floating_ip_address": floating.floating_ip_address,
        "floating_network_id": str(floating.floating_network_id),
        "router_id": None,
        "port_id": str(floating.port_id) if floating.port_id else None,
        "fixed_ip_address": floating.fixed_ip_address,
        "status": floating.status,
        "port_details": (
            {
                "name": port.name,
                "network_id": str(port.network_id),
                "mac_address": port.mac_address,
                "admin_state_up": port.admin_state_up,
                "status": port.status,
                "device_id": port.device_id,
                "device_owner": port.device_owner,
            }
            if port is not None
            else None
        ),
        "dns_domain": "",
        "dns_name": "",
        "port_forwardings": [],
        "qos_policy_id": None,
    }
