"""Compute host writes: registration and heartbeats, as reported through the conductor."""

from datetime import datetime

from django.db.models import DateTimeField, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cloud.hosts.models import ComputeNode
from cloud.payloads import HostReport


def _seen_at(report: HostReport) -> datetime:
    """When the host spoke (1.1+), bounded by now so a fast clock cannot keep it alive."""
    now = timezone.now()
    sent = parse_datetime(report.sent_at) if report.sent_at else None
    return min(sent, now) if sent is not None and sent.tzinfo is not None else now


def compute_node_report(*, report: HostReport) -> ComputeNode:
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
        "started_at": parse_datetime(report.started_at) if report.started_at else None,
        "last_seen_at": _seen_at(report),
    }
    node, created = ComputeNode.objects.get_or_create(host=report.host, defaults=values)
    if not created:
        # Reports may be handled out of order: never move liveness backwards.
        ComputeNode.objects.filter(pk=node.pk).update(
            **{
                **values,
                "last_seen_at": Greatest(
                    "last_seen_at", Value(values["last_seen_at"], output_field=DateTimeField())
                ),
            }
        )
    return node


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
