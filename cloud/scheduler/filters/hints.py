"""same_host / different_host scheduler hints: on (or away from) the hosts of the
named instances."""

from django.db.models import QuerySet

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import Scheduling


class SameHostFilter(HostFilter):
    name = "SameHostFilter"
    reason = "were not the host of an instance named by same_host"

    def applies(self, ctx: Scheduling) -> bool:
        return bool(ctx.request.same_host)

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.filter(host__in=ctx.hint_hosts["same_host"])

    def named_hosts(self, ctx: Scheduling) -> set[str] | None:
        return ctx.hint_hosts["same_host"]


class DifferentHostFilter(HostFilter):
    name = "DifferentHostFilter"
    reason = "held an instance named by different_host"

    def applies(self, ctx: Scheduling) -> bool:
        return bool(ctx.request.different_host)

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.exclude(host__in=ctx.hint_hosts["different_host"])
