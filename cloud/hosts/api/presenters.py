"""Shapes of compute hosts in the compute API: as a service, as a hypervisor, and the
aggregates that group them."""

import json
from datetime import datetime

from cloud.api.microversions import APIVersion
from cloud.hosts.models import Aggregate, ComputeNode
from cloud.hosts.selectors import host_is_up

BINARY = "nova-compute"


def nova_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def node_id(node: ComputeNode, version: APIVersion):
    """Integer ids before 2.53, UUIDs from it."""
    return str(node.uuid) if version.at_least("2.53") else node.id


def state(node: ComputeNode) -> str:
    return "up" if host_is_up(node) else "down"


def status(node: ComputeNode) -> str:
    return "disabled" if node.disabled else "enabled"


def service_body(node: ComputeNode, version: APIVersion) -> dict:
    body = {
        "id": node_id(node, version),
        "binary": BINARY,
        "host": node.host,
        "zone": node.availability_zone,
        "status": status(node),
        "state": state(node),
        "updated_at": nova_time(node.last_seen_at),
        "disabled_reason": node.disabled_reason or None,
    }
    if version.at_least("2.11"):
        body["forced_down"] = node.forced_down
    return body


def hypervisor_summary(node: ComputeNode, version: APIVersion) -> dict:
    return {
        "id": node_id(node, version),
        "hypervisor_hostname": node.hypervisor_hostname or node.host,
        "state": state(node),
        "status": status(node),
    }


def hypervisor_detail(
    node: ComputeNode, version: APIVersion, used: dict[str, int], counts: dict[str, int]
) -> dict:
    """A hypervisor with its usage: placement's allocations (`used`) and live instance
    counts by kind (`counts`)."""
    body = {
        **hypervisor_summary(node, version),
        "host_ip": None,
        "hypervisor_type": node.hypervisor_type,
        "hypervisor_version": node.hypervisor_version,
        "service": {
            "host": node.host,
            "id": node_id(node, version),
            "disabled_reason": node.disabled_reason or None,
        },
        # Not in Nova: guests the hypervisor has that are no instance of ours, as the
        # host last reported (the platform leaves them alone; the operator decides).
        "unknown_domains": node.unknown_domains,
    }
    if version.at_least("2.88"):
        body["uptime"] = None
        return body
    memory_used = used.get("MEMORY_MB", 0)
    disk_used = used.get("DISK_GB", 0)
    body.update(
        {
            "vcpus": node.vcpus,
            "memory_mb": node.memory_mb,
            "local_gb": node.local_gb,
            "vcpus_used": used.get("VCPU", 0),
            "memory_mb_used": memory_used,
            "local_gb_used": disk_used,
            "free_ram_mb": node.memory_mb - memory_used,
            "free_disk_gb": node.local_gb - disk_used,
            "disk_available_least": node.local_gb - disk_used,
            "running_vms": counts.get("running", 0),
            "current_workload": counts.get("busy", 0),
            "cpu_info": node.cpu_info if version.at_least("2.28") else json.dumps(node.cpu_info),
        }
    )
    return body


def aggregate_body(aggregate: Aggregate, version: APIVersion, *, created: bool = False) -> dict:
    """Nova's aggregate: `uuid` from 2.41; create answers without hosts and metadata."""
    body = {
        "id": aggregate.pk,
        "name": aggregate.name,
        "availability_zone": aggregate.availability_zone,
        "created_at": nova_time(aggregate.created_at),
        "updated_at": nova_time(aggregate.updated_at),
        "deleted_at": None,
        "deleted": False,
    }
    if version.at_least("2.41"):
        body["uuid"] = str(aggregate.uuid)
    if not created:
        body["hosts"] = sorted(h.host for h in aggregate.hosts.all())
        body["metadata"] = dict(aggregate.metadata)
    return body
