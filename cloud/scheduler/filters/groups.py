"""Server group filters: hard affinity (all on one host) and anti-affinity (at most
`max_server_per_host` members per host, 1 unless the group's rules say otherwise).

They narrow the query by the hosts of members placed so far; the claim then
re-checks under the group's row lock (cloud.scheduler.services), so parallel
boots into one group cannot both pass on a stale view.
"""

from django.db.models import QuerySet

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.models import ServerGroupPolicy
from cloud.scheduler.request import Scheduling


def max_per_host(rules: dict) -> int:
    return int(rules.get("max_server_per_host", 1))


def hosts_full(group_hosts: dict[str, int], rules: dict) -> set[str]:
    limit = max_per_host(rules)
    return {host for host, count in group_hosts.items() if count >= limit}


class ServerGroupAffinityFilter(HostFilter):
    name = "ServerGroupAffinityFilter"

    def applies(self, ctx: Scheduling) -> bool:
        group = ctx.group
        return group is not None and group.policy == ServerGroupPolicy.AFFINITY

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        hosts = set(ctx.group_hosts)
        return nodes.filter(host__in=hosts) if hosts else nodes

    def named_hosts(self, ctx: Scheduling) -> set[str] | None:
        return set(ctx.group_hosts) or None

    def describe(self, ctx: Scheduling) -> str:
        return f"were not the host of affinity group {ctx.group.uuid}"


class ServerGroupAntiAffinityFilter(HostFilter):
    name = "ServerGroupAntiAffinityFilter"

    def applies(self, ctx: Scheduling) -> bool:
        group = ctx.group
        return group is not None and group.policy == ServerGroupPolicy.ANTI_AFFINITY

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.exclude(host__in=hosts_full(ctx.group_hosts, ctx.group.rules))

    def describe(self, ctx: Scheduling) -> str:
        return f"already held members of anti-affinity group {ctx.group.uuid}"
