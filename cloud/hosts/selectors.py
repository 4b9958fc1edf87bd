"""Compute host reads: which hosts are up and enabled, host aggregates, and zones."""

import uuid as uuidlib
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from cloud.hosts.models import Aggregate, AggregateHost, ComputeNode
from cloud.payloads import PAYLOAD_VERSION


def _fresh_since():
    return timezone.now() - timedelta(seconds=settings.SERVICE_DOWN_TIME)


def host_is_up(node: ComputeNode) -> bool:
    return (
        not node.forced_down
        and node.last_seen_at is not None
        and node.last_seen_at >= _fresh_since()
    )


def host_names_schedulable() -> QuerySet:
    """Names of hosts with a fresh heartbeat that are enabled (a lazy subquery)."""
    return ComputeNode.objects.filter(
        disabled=False, forced_down=False, last_seen_at__gte=_fresh_since()
    ).values("host")


def host_up(*, host: str) -> bool:
    node = ComputeNode.objects.filter(host=host).first()
    return node is not None and host_is_up(node)


def host_payload_version(*, host: str) -> str:
    """The payload version the host announced in its last heartbeat (ours if none yet)."""
    version = ComputeNode.objects.filter(host=host).values_list("payload_version", flat=True)
    return next(iter(version), "") or PAYLOAD_VERSION


def host_capabilities(*, host: str) -> dict[str, bool]:
    """The driver's optional features as the host last reported them ({} if unknown)."""
    found = ComputeNode.objects.filter(host=host).values_list("capabilities", flat=True)
    return next(iter(found), None) or {}


def aggregate_list() -> QuerySet:
    """Every aggregate with its hosts (one query for all the hosts)."""
    return Aggregate.objects.prefetch_related("hosts")


def aggregate_metadata_by_host() -> dict[str, dict[str, set[str]]]:
    """Each host in an aggregate: every metadata key of its aggregates, with the values
    they give it (a comma-separated value is several), in two queries."""
    per_host: dict[str, dict[str, set[str]]] = {}
    aggregates = {a.id: a.metadata for a in Aggregate.objects.all()}
    for aggregate_id, host in AggregateHost.objects.values_list("aggregate_id", "host"):
        metadata = per_host.setdefault(host, {})
        for key, value in aggregates[aggregate_id].items():
            metadata.setdefault(key, set()).update(v.strip() for v in str(value).split(","))
    return per_host


def aggregate_get(*, aggregate_id: int) -> Aggregate | None:
    return aggregate_list().filter(pk=aggregate_id).first()


def host_zone(*, host: str) -> str:
    """The zone a host is in: that of its aggregate naming one, else the default zone."""
    zones = Aggregate.objects.filter(
        hosts__host=host, metadata__has_key="availability_zone"
    ).values_list("metadata__availability_zone", flat=True)
    return next(iter(zones), None) or settings.DEFAULT_AVAILABILITY_ZONE


def zone_names() -> set[str]:
    """Zones a server may ask for: those of the hosts, and those aggregates name."""
    zones = set(ComputeNode.objects.values_list("availability_zone", flat=True).distinct())
    for metadata in Aggregate.objects.filter(metadata__has_key="availability_zone").values_list(
        "metadata", flat=True
    ):
        zones.add(metadata["availability_zone"])
    return zones


def aggregate_zones_of(*, hosts: list[str], exclude_id: int | None = None) -> dict[str, set[str]]:
    """The zones named by the aggregates of each host (other than `exclude_id`)."""
    found: dict[str, set[str]] = {host: set() for host in hosts}
    rows = AggregateHost.objects.filter(
        host__in=hosts, aggregate__metadata__has_key="availability_zone"
    )
    if exclude_id is not None:
        rows = rows.exclude(aggregate_id=exclude_id)
    for host, metadata in rows.values_list("host", "aggregate__metadata"):
        found[host].add(metadata["availability_zone"])
    return found


def nodes_list(*, hostname_pattern: str | None = None, after_id: int | None = None) -> QuerySet:
    """Compute nodes in id order (os-hypervisors), those whose hypervisor hostname holds
    the pattern, after the marker's id."""
    nodes = ComputeNode.objects.order_by("id")
    if hostname_pattern:
        nodes = nodes.filter(hypervisor_hostname__icontains=hostname_pattern)
    if after_id is not None:
        nodes = nodes.filter(id__gt=after_id)
    return nodes


def node_get(*, node_uuid: uuidlib.UUID | None = None, node_id: int | None = None):
    """The compute node with this uuid (or legacy integer id), or None."""
    if node_uuid is not None:
        return ComputeNode.objects.filter(uuid=node_uuid).first()
    return ComputeNode.objects.filter(id=node_id).first()


def node_find(*, host: str | None, node: str | None) -> ComputeNode | None:
    """The compute node named by host and/or hypervisor hostname (`zone:host:node`)."""
    nodes = ComputeNode.objects.all()
    if host:
        nodes = nodes.filter(host=host)
    if node:
        nodes = nodes.filter(Q(hypervisor_hostname=node) | Q(hypervisor_hostname="", host=node))
    return nodes.first()
