"""What the admin dashboard shows, read through the other apps' selectors only."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from cloud.hosts.selectors import host_is_up, nodes_list
from cloud.instances.selectors import (
    actions_per_minute,
    faults_since,
    instance_counts_by_host,
    instance_counts_by_project,
    instance_counts_by_state,
    instances_in_transition,
)
from cloud.operators.queues import queue_depths
from cloud.placement.selectors import inventories_all


@dataclass
class HostRow:
    host: str
    state: str  # up, down
    disabled: bool
    disabled_reason: str
    forced_down: bool
    last_seen_at: datetime | None
    instances: int
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)


def hosts_overview() -> list[HostRow]:
    """Every host with its state, its instances and, per resource class, its capacity
    (allocation ratio applied) and usage."""
    nodes = list(nodes_list())
    inventories = inventories_all()
    counts = instance_counts_by_host(hosts=[n.host for n in nodes])
    rows = []
    for node in nodes:
        resources = {}
        for rc, inv in sorted(inventories.get(node.host, {}).items()):
            capacity = inv["capacity"]
            resources[rc] = {
                **inv,
                "free": max(capacity - inv["used"], 0),
                "percent": round(100 * inv["used"] / capacity) if capacity else 0,
            }
        rows.append(
            HostRow(
                host=node.host,
                state="up" if host_is_up(node) else "down",
                disabled=node.disabled,
                disabled_reason=node.disabled_reason or "",
                forced_down=node.forced_down,
                last_seen_at=node.last_seen_at,
                instances=counts.get(node.host, {}).get("running", 0),
                resources=resources,
            )
        )
    return rows


def _minutes(since: datetime, now: datetime) -> list[datetime]:
    start = since.replace(second=0, microsecond=0)
    count = int((now - start).total_seconds() // 60) + 1
    return [start + timedelta(minutes=i) for i in range(count)]


def builds_timeline(*, hours: int) -> dict[str, list]:
    """Builds started and builds failed per minute over the last `hours` (every minute,
    zeros included), as the charts plot them."""
    now = timezone.now()
    since = now - timedelta(hours=hours)
    per_minute = {
        minute: (n, failed)
        for minute, n, failed in actions_per_minute(action="create", since=since)
    }
    minutes = _minutes(since, now)
    return {
        "labels": [m.strftime("%H:%M") for m in minutes],
        "builds": [per_minute.get(m, (0, 0))[0] for m in minutes],
        "failures": [per_minute.get(m, (0, 0))[1] for m in minutes],
    }


def dashboard() -> dict[str, Any]:
    hours = settings.DASHBOARD_HOURS
    hosts = hosts_overview()
    since = timezone.now() - timedelta(hours=hours)
    classes = sorted({rc for h in hosts for rc in h.resources})
    return {
        "hours": hours,
        "hosts": hosts,
        "hosts_up": sum(1 for h in hosts if h.state == "up"),
        "hosts_down": sum(1 for h in hosts if h.state == "down"),
        "hosts_disabled": sum(1 for h in hosts if h.disabled),
        "resource_classes": classes,
        "capacity": {
            rc: {
                "hosts": [h.host for h in hosts if rc in h.resources],
                "used": [h.resources[rc]["used"] for h in hosts if rc in h.resources],
                "free": [h.resources[rc]["free"] for h in hosts if rc in h.resources],
                "capacity": [h.resources[rc]["capacity"] for h in hosts if rc in h.resources],
            }
            for rc in classes
        },
        "by_state": dict(sorted(instance_counts_by_state().items())),
        "by_project": instance_counts_by_project(limit=10),
        "timeline": builds_timeline(hours=hours),
        "faults": faults_since(since=since, limit=10),
        "stuck": instances_in_transition(limit=10),
        "queues": queue_depths(hosts=[h.host for h in hosts]),
    }
