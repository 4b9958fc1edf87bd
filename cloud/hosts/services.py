"""Compute host writes: registration and heartbeats, as reported through the conductor."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cloud.hosts.models import ComputeNode
from cloud.payloads import HostReport


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
        "last_seen_at": timezone.now(),
    }
    node, _ = ComputeNode.objects.update_or_create(host=report.host, defaults=values)
    return node
