"""Compute API: os-availability-zone (list for everyone, detail with hosts for admins).

A zone is available when at least one of its hosts is enabled.
"""

from rest_framework.response import Response

from cloud.hosts.api.presenters import BINARY, nova_time
from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_is_up
from cloud.identity.views import ComputeView


def _zones(nodes) -> dict[str, list[ComputeNode]]:
    zones: dict[str, list[ComputeNode]] = {}
    for node in nodes:
        zones.setdefault(node.availability_zone, []).append(node)
    return zones


class ZoneListView(ComputeView):
    """GET /os-availability-zone"""

    def get(self, request):
        self.authorize("os_compute_api:os-availability-zone:list")
        zones = _zones(ComputeNode.objects.only("availability_zone", "disabled"))
        return Response(
            {
                "availabilityZoneInfo": [
                    {
                        "zoneName": name,
                        "zoneState": {"available": any(not n.disabled for n in nodes)},
                        "hosts": None,
                    }
                    for name, nodes in sorted(zones.items())
                ]
            }
        )


class ZoneDetailView(ComputeView):
    """GET /os-availability-zone/detail"""

    def get(self, request):
        self.authorize("os_compute_api:os-availability-zone:detail")
        info = []
        for name, nodes in sorted(_zones(ComputeNode.objects.all()).items()):
            hosts = {
                node.host: {
                    BINARY: {
                        "available": host_is_up(node),
                        "active": not node.disabled,
                        "updated_at": nova_time(node.last_seen_at),
                    }
                }
                for node in nodes
            }
            info.append(
                {
                    "zoneName": name,
                    "zoneState": {"available": any(not n.disabled for n in nodes)},
                    "hosts": hosts,
                }
            )
        return Response({"availabilityZoneInfo": info})
