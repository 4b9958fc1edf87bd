"""Compute host writes: registration and heartbeats (as reported through the conductor),
the operator's enable/disable, and host aggregates with the zones they give hosts."""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.hosts.models import Aggregate, AggregateHost, ComputeNode
from cloud.hosts.selectors import aggregate_get, aggregate_zones_of, host_zone
from cloud.instances.selectors import instance_counts_by_host
from cloud.payloads import HostReport


def _seen_at(report: HostReport) -> datetime:
    """When the host spoke (1.1+), bounded by now so a fast clock cannot keep it alive."""
    now = timezone.now()
    sent = parse_datetime(report.sent_at) if report.sent_at else None
    return min(sent, now) if sent is not None and sent.tzinfo is not None else now


def compute_node_report(*, report: HostReport) -> None:
    """Upsert the host's row from its heartbeat and mark it seen now."""
    values = {
        "hypervisor_type": report.hypervisor_type,
        "hypervisor_version": report.hypervisor_version,
        "hypervisor_hostname": report.hypervisor_hostname,
        "libvirt_uri": report.libvirt_uri,
        "vcpus": report.vcpus,
        "memory_mb": report.memory_mb,
        "local_gb": report.local_gb,
        "cpu_info": report.cpu_info,
        "payload_version": report.payload_version,
        "capabilities": report.capabilities,
        "image_cache": report.image_cache,
        "started_at": parse_datetime(report.started_at) if report.started_at else None,
        "last_seen_at": _seen_at(report),
    }
    # A known host (every heartbeat but its first) is one UPDATE; reports may be handled
    # out of order, so liveness never moves backwards.
    seen = Greatest("last_seen_at", Value(values["last_seen_at"], output_field=DateTimeField()))
    if ComputeNode.objects.filter(host=report.host).update(**{**values, "last_seen_at": seen}):
        return
    ComputeNode.objects.get_or_create(
        host=report.host,
        # A callable: looked up only when the row is created.
        defaults={**values, "availability_zone": lambda: host_zone(host=report.host)},
    )


def compute_node_unknown_domains(*, host: str, uuids: list[str]) -> bool:
    """Record the guests the host has that are no live instance (reported to admins,
    never destroyed); True when the list changed."""
    return bool(
        ComputeNode.objects.filter(host=host)
        .exclude(unknown_domains=uuids)
        .update(unknown_domains=uuids)
    )


def compute_node_build_outcome(*, host: str, failed: bool) -> None:
    """Count a failed build against the host, or clear its count after one that worked
    (what BuildFailureWeigher ranks hosts by)."""
    nodes = ComputeNode.objects.filter(host=host)
    if failed:
        nodes.update(failed_builds=F("failed_builds") + 1)
    else:
        nodes.filter(failed_builds__gt=0).update(failed_builds=0)


def compute_service_update(
    *,
    node: ComputeNode,
    disabled: bool | None = None,
    disabled_reason: str | None = None,
    forced_down: bool | None = None,
) -> ComputeNode:
    """Enable or disable a host for scheduling, or force it down (an operator's fencing)."""
    changes: dict = {}
    if disabled is not None:
        changes["disabled"] = disabled
        changes["disabled_reason"] = (disabled_reason or "") if disabled else ""
    if forced_down is not None:
        changes["forced_down"] = forced_down
    if changes:
        ComputeNode.objects.filter(pk=node.pk).update(**changes, updated_at=timezone.now())
        node.refresh_from_db()
    return node


# --- Host aggregates (os-aggregates) ------------------------------------------------
#
# A host's zone is the availability_zone of its aggregate that names one, else the
# default zone; every write that can change it sets ComputeNode.availability_zone in
# the same transaction, so the scheduler's zone filter (a plain column) never lags.
# Writes lock the aggregate row, then the host rows (in name order), so a host can
# never be put into two zones by concurrent requests.

AZ_KEY = "availability_zone"


def _locked(aggregate_id: int) -> Aggregate:
    aggregate = Aggregate.objects.select_for_update().filter(pk=aggregate_id).first()
    if aggregate is None:
        raise NotFound(f"Aggregate {aggregate_id} could not be found.")
    return aggregate


def _hosts(aggregate: Aggregate) -> list[str]:
    return sorted(aggregate.hosts.values_list("host", flat=True))


def _lock_nodes(hosts: list[str]) -> None:
    list(ComputeNode.objects.select_for_update().filter(host__in=hosts).order_by("host"))


def _zones_sync(hosts: list[str]) -> None:
    """Set each host's zone from its aggregates (at most one zone per host is allowed)."""
    for host, zones in aggregate_zones_of(hosts=hosts).items():
        zone = min(zones) if zones else settings.DEFAULT_AVAILABILITY_ZONE
        ComputeNode.objects.filter(host=host).exclude(availability_zone=zone).update(
            availability_zone=zone, updated_at=timezone.now()
        )


def _zone_change_check(aggregate: Aggregate, zone: str | None, hosts: list[str]) -> str | None:
    """Why the aggregate's hosts cannot take this zone (Nova's is_safe_to_update_az)."""
    if not zone:
        return f"Aggregate {aggregate.name} does not support empty named availability zone"
    others = aggregate_zones_of(hosts=hosts, exclude_id=aggregate.pk)
    conflicting = sorted({z for zones in others.values() for z in zones if z != zone})
    if conflicting:
        return f"One or more hosts already in availability zone(s) {conflicting}"
    return None


def _zone_update_check(aggregate: Aggregate, zone: str | None) -> str | None:
    """A zone change must suit every host, and may not move instances out of their zone."""
    hosts = _hosts(aggregate)
    _lock_nodes(hosts)
    reason = _zone_change_check(aggregate, zone, hosts)
    if (
        reason is None
        and zone != aggregate.availability_zone
        and instance_counts_by_host(hosts=hosts)
    ):
        reason = "One or more hosts contain instances in this zone"
    return reason


def _renamed(aggregate: Aggregate, name: str) -> None:
    if Aggregate.objects.filter(name=name).exclude(pk=aggregate.pk).exists():
        raise Conflict(f"Aggregate {name} already exists.")
    aggregate.name = name


def _save(aggregate: Aggregate) -> Aggregate:
    try:
        with transaction.atomic():
            aggregate.save()
    except IntegrityError:
        raise Conflict(f"Aggregate {aggregate.name} already exists.") from None
    return aggregate_get(aggregate_id=aggregate.pk)


@transaction.atomic
def aggregate_create(*, name: str, availability_zone: str | None) -> Aggregate:
    if Aggregate.objects.filter(name=name).exists():
        raise Conflict(f"Aggregate {name} already exists.")
    metadata = {AZ_KEY: availability_zone} if availability_zone else {}
    return _save(Aggregate(name=name, metadata=metadata))


@transaction.atomic
def aggregate_update(
    *, aggregate_id: int, name: str | None = None, availability_zone: str | None = None
) -> Aggregate:
    """Rename and/or move the aggregate (and so its hosts) to another zone.

    `availability_zone` None leaves the zone as it is; the view turns an explicit
    null into an empty name, which is refused as in Nova.
    """
    aggregate = _locked(aggregate_id)
    if name is not None:
        _renamed(aggregate, name)
    if availability_zone is not None:
        reason = _zone_update_check(aggregate, availability_zone)
        if reason:
            raise BadRequest(f"Cannot update aggregate {aggregate_id}. Reason: {reason}.")
        aggregate.metadata = {**aggregate.metadata, AZ_KEY: availability_zone}
    aggregate = _save(aggregate)
    if availability_zone is not None:
        _zones_sync(_hosts(aggregate))
    return aggregate


@transaction.atomic
def aggregate_metadata_set(*, aggregate_id: int, metadata: dict[str, str | None]) -> Aggregate:
    """Merge metadata into the aggregate's; a null value removes the key."""
    aggregate = _locked(aggregate_id)
    if AZ_KEY in metadata:
        reason = _zone_update_check(aggregate, metadata[AZ_KEY])
        if reason:
            raise BadRequest(
                f"Cannot update metadata of aggregate {aggregate_id}. Reason: {reason}."
            )
    merged = dict(aggregate.metadata)
    for key, value in metadata.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    aggregate.metadata = merged
    aggregate = _save(aggregate)
    _zones_sync(_hosts(aggregate))
    return aggregate


@transaction.atomic
def aggregate_delete(*, aggregate_id: int) -> None:
    """Delete an aggregate that holds no hosts (Nova refuses a non-empty one with 400)."""
    aggregate = _locked(aggregate_id)
    if aggregate.hosts.exists():
        raise BadRequest(
            f"Cannot remove host from aggregate {aggregate_id}. "
            "Reason: Host aggregate is not empty."
        )
    aggregate.delete()


@transaction.atomic
def aggregate_host_add(*, aggregate_id: int, host: str) -> Aggregate:
    aggregate = _locked(aggregate_id)
    _lock_nodes([host])
    if not ComputeNode.objects.filter(host=host).exists():
        raise NotFound(f"Compute host {host} could not be found.")
    if AggregateHost.objects.filter(aggregate=aggregate, host=host).exists():
        raise Conflict(f"Aggregate {aggregate_id} already has host {host}.")
    if aggregate.availability_zone:
        reason = _zone_change_check(aggregate, aggregate.availability_zone, [host])
        if reason:
            raise Conflict(f"Cannot add host to aggregate {aggregate_id}. Reason: {reason}.")
    AggregateHost.objects.create(aggregate=aggregate, host=host)
    Aggregate.objects.filter(pk=aggregate.pk).update(updated_at=timezone.now())
    _zones_sync([host])
    return aggregate_get(aggregate_id=aggregate.pk)


@transaction.atomic
def aggregate_host_remove(*, aggregate_id: int, host: str) -> Aggregate:
    aggregate = _locked(aggregate_id)
    _lock_nodes([host])
    member = AggregateHost.objects.filter(aggregate=aggregate, host=host)
    if not ComputeNode.objects.filter(host=host).exists() or not member.exists():
        raise NotFound(f"Cannot remove host {host} in aggregate {aggregate_id}")
    member.delete()
    Aggregate.objects.filter(pk=aggregate.pk).update(updated_at=timezone.now())
    _zones_sync([host])
    return aggregate_get(aggregate_id=aggregate.pk)
