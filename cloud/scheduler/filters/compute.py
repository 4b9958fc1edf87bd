"""ComputeFilter: only hosts that are up (fresh heartbeat, not forced down) and enabled."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Now

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import Scheduling


def _up() -> Q:
    # Judged against the database's clock, so the statement is the same every time.
    fresh = Now() - timedelta(seconds=settings.SERVICE_DOWN_TIME)
    return Q(forced_down=False, last_seen_at__gte=fresh)


class ComputeFilter(HostFilter):
    name = "ComputeFilter"

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.filter(_up(), disabled=False)

    def narrow_key(self, ctx: Scheduling) -> tuple:
        return (settings.SERVICE_DOWN_TIME,)

    def stages(self, nodes: QuerySet, ctx: Scheduling) -> list[tuple[QuerySet, str]]:
        up = nodes.filter(_up())
        return [(up, "down"), (up.filter(disabled=False), "disabled")]
