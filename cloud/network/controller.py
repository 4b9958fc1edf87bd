"""The network controller's decisions (run by its Celery worker, queue `network`):
from the rows, what each host's agent must hear.

For a port bound to a host: the host gets the network (NetworkSetup, with a DHCP
server port of its own made here when a subnet has DHCP on, as Neutron gives each
DHCP agent its port) and then the port (PortBinding, with its security groups'
rules resolved to plain dicts). Every host with the network gets the new DHCP
entries. A host left with no port of a network is told to tear it down and its DHCP
port goes. Every message is the whole desired state, so a repeat is harmless.
"""

import ipaddress
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cloud import rpc
from cloud.messaging import (
    AGENT_FLOATING_IP_SET,
    AGENT_NETWORK_SETUP,
    AGENT_NETWORK_TEARDOWN,
    AGENT_PORT_BIND,
)
from cloud.network import ipam, notify
from cloud.network.choices import DEVICE_OWNER_DHCP
from cloud.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    NetworkAgent,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from cloud.payloads import (
    AgentReport,
    FloatingIPMapping,
    NetworkSetup,
    NetworkTeardown,
    PortBinding,
    PortStatus,
)

log = logging.getLogger(__name__)


def _fixed_ips(port: Port, subnets: dict) -> list[dict]:
    found = []
    for fixed in port.fixed_ips.all():
        subnet = subnets.get(fixed.subnet_id) or fixed.subnet
        net = ipaddress.ip_network(subnet.cidr)
        found.append(
            {
                "ip_address": fixed.ip_address,
                "subnet_id": str(subnet.id),
                "cidr": subnet.cidr,
                "prefixlen": net.prefixlen,
                "gateway_ip": subnet.gateway_ip,
                "version": net.version,
            }
        )
    return found


def vif_spec(port: Port) -> dict:
    """The port as the compute puts it in the domain XML (a VifSpec dict)."""
    from cloud.payloads import VifSpec

    return VifSpec(
        port_id=str(port.id),
        network_id=str(port.network_id),
        mac_address=port.mac_address,
        devname=notify.devname(port.id),
        bridge=settings.NETWORK_INTEGRATION_BRIDGE,
        segmentation_id=port.network.segmentation_id,
        mtu=port.network.mtu,
        fixed_ips=_fixed_ips(port, {}),
    ).to_dict()


def _dhcp_port_ensure(network: Network, host: str, subnets: list[Subnet]) -> Port | None:
    """This host's DHCP server port on the network (one address per DHCP subnet)."""
    from cloud.network.services import port_create

    dhcp = [s for s in subnets if s.enable_dhcp]
    found = Port.objects.filter(
        network=network, device_owner=DEVICE_OWNER_DHCP, binding_host=host
    ).first()
    if not dhcp:
        if found is not None:
            found.delete()
        return None
    if found is not None:
        have = set(found.fixed_ips.values_list("subnet_id", flat=True))
        for subnet in dhcp:
            if subnet.id not in have:
                try:
                    ipam.ip_allocate_any(port=found, subnet=subnet)
                except Exception:  # a full subnet: that subnet gets no DHCP on this host
                    log.warning("no address for the DHCP port of %s on %s", subnet.id, host)
        return found
    from cloud.identity.context import RequestContext

    system = RequestContext(
        user_id="network-controller",
        user_name="network-controller",
        project_id="",
        project_name="",
        roles=["admin"],
    )
    return port_create(
        context=system,
        network=network,
        project_id=network.project_id,
        fixed_ips=[{"subnet_id": str(s.id)} for s in dhcp],
        device_owner=DEVICE_OWNER_DHCP,
        device_id=f"dhcp{host}-{network.id}",
        binding_host=host,
    )


def _network_hosts(network_id) -> set[str]:
    return set(
        Port.objects.filter(network_id=network_id)
        .exclude(binding_host="")
        .exclude(device_owner=DEVICE_OWNER_DHCP)
        .values_list("binding_host", flat=True)
    )


def network_setup(network: Network, host: str) -> NetworkSetup:
    subnets = list(network.subnets.order_by("created_at", "id"))
    dhcp_port = _dhcp_port_ensure(network, host, subnets)
    ports = (
        Port.objects.filter(network=network)
        .exclude(device_owner=DEVICE_OWNER_DHCP)
        .prefetch_related("fixed_ips")
        .order_by("created_at", "id")
    )
    hosts = []
    for port in ports:
        for fixed in port.fixed_ips.all():
            hosts.append(
                {
                    "mac_address": port.mac_address,
                    "ip_address": fixed.ip_address,
                    "hostname": port.dns_name
                    or f"host-{fixed.ip_address.replace('.', '-').replace(':', '-')}",
                    "port_id": str(port.id),
                }
            )
    by_id = {s.id: s for s in subnets}
    return NetworkSetup(
        network_id=str(network.id),
        name=network.name,
        project_id=network.project_id,
        network_type=network.network_type,
        segmentation_id=network.segmentation_id,
        physical_network=network.physical_network,
        mtu=network.mtu,
        external=network.external,
        subnets=[
            {
                "id": str(s.id),
                "cidr": s.cidr,
                "ip_version": s.ip_version,
                "prefixlen": ipaddress.ip_network(s.cidr).prefixlen,
                "gateway_ip": s.gateway_ip,
                "enable_dhcp": s.enable_dhcp,
                "dns_nameservers": list(s.dns_nameservers),
                "allocation_pools": list(s.allocation_pools),
            }
            for s in subnets
        ],
        dhcp_port=(
            {
                "port_id": str(dhcp_port.id),
                "mac_address": dhcp_port.mac_address,
                "devname": notify.devname(dhcp_port.id),
                "fixed_ips": _fixed_ips(dhcp_port, by_id),
            }
            if dhcp_port is not None
            else {}
        ),
        dhcp_hosts=hosts,
    )


def _rules_for(port: Port) -> list[dict]:
    """The port's groups' rules with remote groups resolved to their members' addresses."""
    groups = list(port.security_groups.all())
    rules = list(
        SecurityGroupRule.objects.filter(security_group__in=groups).order_by("created_at", "id")
    )
    remote_ids = {r.remote_group_id for r in rules if r.remote_group_id}
    members: dict = {gid: [] for gid in remote_ids}
    if remote_ids:
        rows = IPAllocation.objects.filter(port__security_groups__in=remote_ids).values_list(
            "port__security_groups", "ip_address"
        )
        for gid, address in rows:
            members[gid].append(address)
    resolved = []
    for rule in rules:
        if rule.remote_group_id:
            version = 4 if rule.ethertype == "IPv4" else 6
            prefixes = sorted(
                f"{a}/{32 if version == 4 else 128}"
                for a in set(members[rule.remote_group_id])
                if ipaddress.ip_address(a).version == version
            )
        elif rule.remote_ip_prefix:
            prefixes = [rule.remote_ip_prefix]
        else:
            prefixes = ["0.0.0.0/0" if rule.ethertype == "IPv4" else "::/0"]
        resolved.append(
            {
                "id": str(rule.id),
                "direction": rule.direction,
                "ethertype": rule.ethertype,
                "protocol": rule.protocol,
                "port_range_min": rule.port_range_min,
                "port_range_max": rule.port_range_max,
                "remote_ip_prefixes": prefixes,
            }
        )
    return resolved


def port_binding(port: Port) -> PortBinding:
    return PortBinding(
        port_id=str(port.id),
        network_id=str(port.network_id),
        host=port.binding_host,
        mac_address=port.mac_address,
        devname=notify.devname(port.id),
        segmentation_id=port.network.segmentation_id,
        network_type=port.network.network_type,
        bridge=settings.NETWORK_INTEGRATION_BRIDGE,
        mtu=port.network.mtu,
        fixed_ips=_fixed_ips(port, {}),
        instance_uuid=port.device_id if port.device_owner.startswith("compute:") else "",
        device_owner=port.device_owner,
        admin_state_up=port.admin_state_up,
        port_security_enabled=port.port_security_enabled,
        security_group_ids=[str(g.id) for g in port.security_groups.all()],
        security_group_rules=_rules_for(port) if port.port_security_enabled else [],
        allowed_address_pairs=list(port.allowed_address_pairs),
    )


@transaction.atomic
def network_sync(*, network_id: str, hosts: list[str]) -> None:
    """Every host with ports on the network gets its state; the hosts named (where it
    was) and left with none are told to tear it down."""
    network = Network.objects.filter(id=network_id).first()
    if network is None:
        for host in hosts:
            rpc.cast_network_agent(
                host, AGENT_NETWORK_TEARDOWN, NetworkTeardown(network_id=network_id)
            )
        return
    live = _network_hosts(network.id)
    for host in sorted(live):
        rpc.cast_network_agent(host, AGENT_NETWORK_SETUP, network_setup(network, host))
    for host in sorted(set(hosts) - live):
        Port.objects.filter(
            network=network, device_owner=DEVICE_OWNER_DHCP, binding_host=host
        ).delete()
        rpc.cast_network_agent(
            host,
            AGENT_NETWORK_TEARDOWN,
            NetworkTeardown(network_id=str(network.id), segmentation_id=network.segmentation_id),
        )


@transaction.atomic
def port_sync(*, port_id: str) -> None:
    """A port changed: its host gets the network and the port; the network's other
    hosts get the new DHCP entries."""
    port = (
        Port.objects.filter(id=port_id)
        .select_related("network")
        .prefetch_related("fixed_ips__subnet", "security_groups")
        .first()
    )
    if port is None or port.device_owner == DEVICE_OWNER_DHCP:
        # A DHCP port is the host's DHCP server, wired with its network (network_setup).
        return
    if port.binding_host:
        port.status = "BUILD"
        port.save(update_fields=["status"])
    network_sync(network_id=str(port.network_id), hosts=[])
    if port.binding_host:
        rpc.cast_network_agent(port.binding_host, AGENT_PORT_BIND, port_binding(port))
        for floating in port.floating_ips.all():
            floating_ip_sync(floating_ip_id=str(floating.id))
    # The port's addresses are members of its groups: the other ports whose rules name
    # those groups as remote (the default group's own members, say) now allow them.
    for group in port.security_groups.all():
        security_group_sync(group_id=str(group.id), except_port=str(port.id))


@transaction.atomic
def security_group_sync(*, group_id: str, except_port: str = "") -> None:
    """The group's rules or members changed: re-send every bound port that uses the
    group, or a group whose rules name it as remote (but `except_port`, just sent)."""
    users = SecurityGroup.objects.filter(rules__remote_group_id=group_id).values_list(
        "id", flat=True
    )
    ports = (
        Port.objects.filter(security_groups__in=[group_id, *users])
        .exclude(binding_host="")
        .select_related("network")
        .distinct()
    )
    if except_port:
        ports = ports.exclude(id=except_port)
    for port in ports:
        rpc.cast_network_agent(port.binding_host, AGENT_PORT_BIND, port_binding(port))


@transaction.atomic
def floating_ip_sync(*, floating_ip_id: str) -> None:
    floating = (
        FloatingIP.objects.filter(id=floating_ip_id)
        .select_related("port__network", "floating_network")
        .first()
    )
    if floating is None or floating.port is None or not floating.port.binding_host:
        return
    external = floating.floating_network
    subnet = external.subnets.filter(
        id__in=floating.floating_port.fixed_ips.values("subnet_id")
    ).first()
    rpc.cast_network_agent(
        floating.port.binding_host,
        AGENT_FLOATING_IP_SET,
        FloatingIPMapping(
            floating_ip_id=str(floating.id),
            floating_ip_address=floating.floating_ip_address,
            floating_network_id=str(external.id),
            host=floating.port.binding_host,
            port_id=str(floating.port_id),
            fixed_ip_address=floating.fixed_ip_address or "",
            floating_segmentation_id=external.segmentation_id,
            floating_prefixlen=ipaddress.ip_network(subnet.cidr).prefixlen if subnet else 32,
            floating_gateway_ip=subnet.gateway_ip if subnet else None,
            network_id=str(floating.port.network_id),
            segmentation_id=floating.port.network.segmentation_id,
        ),
    )


def port_status_report(*, report: PortStatus) -> None:
    """The agent's word on a port: its status, if the port is still bound to that host
    (a late report from a host it left changes nothing)."""
    status = report.status if report.status in ("ACTIVE", "DOWN", "ERROR") else "ERROR"
    if report.message:
        log.info("port %s on %s: %s (%s)", report.port_id, report.host, status, report.message)
    updated = Port.objects.filter(id=report.port_id, binding_host=report.host).update(status=status)
    if updated and status == "ACTIVE":
        FloatingIP.objects.filter(port_id=report.port_id).update(status="ACTIVE")


def agent_heartbeat(*, report: AgentReport) -> None:
    """Mark the agent seen: one UPDATE for a known host."""
    values = {
        "payload_version": report.payload_version,
        "bridge": report.bridge,
        "capabilities": report.capabilities,
        "started_at": report.started_at,
        "last_seen": timezone.now(),
    }
    if not NetworkAgent.objects.filter(host=report.host).update(**values):
        NetworkAgent.objects.update_or_create(host=report.host, defaults=values)
