"""ComputeFilter: only hosts that are up (fresh heartbeat, not forced down) and enabled."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import Scheduling


def _up() -> Q:
    fresh = timezone.now() - timedelta(seconds=settings.SERVICE_DOWN_TIME)
    return Q(forced_down=False, last_seen_at__gte=fresh)


class ComputeFilter(HostFilter):
    name = "ComputeFilter"

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.filter(_up(), disabled=False)

    def stages(self, nodes: QuerySet, ctx: Scheduling) -> list[tuple[QuerySet, str]]:
        up = nodes.filter(_up())
        return [(up, "down"), (up.filter(disabled=False), "disabled")]
