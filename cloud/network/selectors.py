"""Reads of the network app: what a caller may see (Neutron's visibility: a project
sees its own rows, shared and external networks and their subnets; an admin sees
everything), and the lookups the other apps make (a server's ports and addresses)."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from cloud.api.parsing import uuid_or_none as parsed_uuid
from cloud.identity.context import RequestContext
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


def uuid_or_none(value: str) -> str | None:
    pk = parsed_uuid(str(value))
    return None if pk is None else str(pk)


def network_list(*, context: RequestContext) -> QuerySet:
    rows = Network.objects.prefetch_related(
        Prefetch("subnets", Subnet.objects.only("id", "network_id"))
    )
    if context.is_admin:
        return rows
    return rows.filter(Q(project_id=context.project_id) | Q(shared=True) | Q(external=True))


def network_get(*, context: RequestContext, network_id: str) -> Network | None:
    found = uuid_or_none(network_id)
    return network_list(context=context).filter(id=found).first() if found else None


def network_owned(*, context: RequestContext, network: Network) -> bool:
    return context.is_admin or network.project_id == context.project_id


def subnet_list(*, context: RequestContext) -> QuerySet:
    rows = Subnet.objects.select_related("network")
    if context.is_admin:
        return rows
    return rows.filter(
        Q(project_id=context.project_id) | Q(network__shared=True) | Q(network__external=True)
    )


def subnet_get(*, context: RequestContext, subnet_id: str) -> Subnet | None:
    found = uuid_or_none(subnet_id)
    return subnet_list(context=context).filter(id=found).first() if found else None


def _port_rows() -> QuerySet:
    return Port.objects.select_related("network").prefetch_related(
        Prefetch("fixed_ips", IPAllocation.objects.order_by("id")),
        Prefetch("security_groups", SecurityGroup.objects.only("id")),
    )


def port_list(*, context: RequestContext) -> QuerySet:
    rows = _port_rows()
    if context.is_admin:
        return rows
    return rows.filter(project_id=context.project_id)


def port_get(*, context: RequestContext, port_id: str) -> Port | None:
    found = uuid_or_none(port_id)
    return port_list(context=context).filter(id=found).first() if found else None


def security_group_list(*, context: RequestContext) -> QuerySet:
    rows = SecurityGroup.objects.prefetch_related(
        Prefetch("rules", SecurityGroupRule.objects.order_by("created_at", "id"))
    )
    if context.is_admin:
        return rows
    return rows.filter(project_id=context.project_id)


def security_group_get(*, context: RequestContext, group_id: str) -> SecurityGroup | None:
    found = uuid_or_none(group_id)
    return security_group_list(context=context).filter(id=found).first() if found else None


def security_group_rule_list(*, context: RequestContext) -> QuerySet:
    rows = SecurityGroupRule.objects.all()
    if context.is_admin:
        return rows
    return rows.filter(project_id=context.project_id)


def security_group_rule_get(*, context: RequestContext, rule_id: str) -> SecurityGroupRule | None:
    found = uuid_or_none(rule_id)
    return security_group_rule_list(context=context).filter(id=found).first() if found else None


def floating_ip_list(*, context: RequestContext) -> QuerySet:
    rows = FloatingIP.objects.select_related("port")
    if context.is_admin:
        return rows
    return rows.filter(project_id=context.project_id)


def floating_ip_get(*, context: RequestContext, floating_ip_id: str) -> FloatingIP | None:
    found = uuid_or_none(floating_ip_id)
    return floating_ip_list(context=context).filter(id=found).first() if found else None


# -- for the compute API and the conductor ---------------------------------------------


def instance_ports(*, instance_uuids: list[str]) -> dict[str, list[Port]]:
    """The ports of each of the instances (device_id), in creation order: one query for
    the ports, one for their addresses, one for their groups, whatever the count."""
    found: dict[str, list[Port]] = {uuid: [] for uuid in instance_uuids}
    rows = (
        Port.objects.filter(device_id__any=instance_uuids)
        .select_related("network")
        .prefetch_related(
            Prefetch("fixed_ips", IPAllocation.objects.order_by("id")),
            Prefetch("floating_ips", FloatingIP.objects.order_by("created_at")),
            Prefetch("security_groups", SecurityGroup.objects.only("id", "name")),
        )
        .order_by("created_at", "id")
    )
    for port in rows:
        found.setdefault(port.device_id, []).append(port)
    return found


def server_addresses(ports: list[Port]) -> dict[str, list[dict]]:
    """Nova's `addresses` of a server from its ports (as instance_ports gives them)."""
    addresses: dict[str, list[dict]] = {}
    for port in ports:
        entries = addresses.setdefault(port.network.name or str(port.network_id), [])
        for fixed in port.fixed_ips.all():
            version = 6 if ":" in fixed.ip_address else 4
            entries.append(
                {
                    "version": version,
                    "addr": fixed.ip_address,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                }
            )
        for floating in port.floating_ips.all():
            entries.append(
                {
                    "version": 6 if ":" in floating.floating_ip_address else 4,
                    "addr": floating.floating_ip_address,
                    "OS-EXT-IPS:type": "floating",
                    "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                }
            )
    return addresses


def server_security_groups(ports: list[Port]) -> list[dict[str, str]]:
    """Nova's `security_groups` of a server: the names of its ports' groups, once each."""
    names = []
    for port in ports:
        for group in port.security_groups.all():
            if group.name not in names:
                names.append(group.name)
    return [{"name": name} for name in names]


def agent_hosts_seen(*, since: datetime) -> set[str]:
    """The hosts whose network agent reported in since `since`."""
    return set(NetworkAgent.objects.filter(last_seen__gte=since).values_list("host", flat=True))
