"""AvailabilityZoneFilter: hosts in the requested zone (and the forced host, `zone:host`)."""

from django.db.models import QuerySet

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import Scheduling


class AvailabilityZoneFilter(HostFilter):
    name = "AvailabilityZoneFilter"

    def applies(self, ctx: Scheduling) -> bool:
        return bool(ctx.request.availability_zone or ctx.request.forced_host)

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        if ctx.request.availability_zone:
            nodes = nodes.filter(availability_zone=ctx.request.availability_zone)
        if ctx.request.forced_host:
            nodes = nodes.filter(host=ctx.request.forced_host)
        return nodes

    def narrow_key(self, ctx: Scheduling) -> tuple:
        return (ctx.request.availability_zone, ctx.request.forced_host)

    def named_hosts(self, ctx: Scheduling) -> set[str] | None:
        return {ctx.request.forced_host} if ctx.request.forced_host else None

    def stages(self, nodes: QuerySet, ctx: Scheduling) -> list[tuple[QuerySet, str]]:
        found = []
        if ctx.request.availability_zone:
            nodes = nodes.filter(availability_zone=ctx.request.availability_zone)
            found.append((nodes, f"were not in zone {ctx.request.availability_zone}"))
        if ctx.request.forced_host:
            nodes = nodes.filter(host=ctx.request.forced_host)
            found.append((nodes, f"were not the requested host {ctx.request.forced_host}"))
        return found
