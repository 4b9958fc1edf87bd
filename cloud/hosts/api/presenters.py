"""Shapes of compute hosts in the compute API: as a service, and as a hypervisor."""

from datetime import datetime

from cloud.api.microversions import APIVersion
from cloud.hosts.models import ComputeNode
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
