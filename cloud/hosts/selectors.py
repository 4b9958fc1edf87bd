"""Compute host reads: which hosts are up and enabled."""

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from cloud.hosts.models import ComputeNode


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


def host_counts() -> dict[str, int]:
    """How many hosts exist, are down, or are disabled (for "no valid host" faults)."""
    fresh = _fresh_since()
    nodes = ComputeNode.objects.all()
    return {
        "total": nodes.count(),
        "down": nodes.exclude(last_seen_at__gte=fresh, forced_down=False).count(),
        "disabled": nodes.filter(disabled=True).count(),
    }
