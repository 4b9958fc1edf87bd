"""Server group filters: hard affinity (all on one host) and anti-affinity (at most
`max_server_per_host` members per host, 1 unless the group's rules say otherwise).

They judge the bounded candidate set against the hosts of the members placed
so far (including those a pass of the scheduler has just placed: members of
one group decided together keep its policy among themselves); the claim then
re-checks under the group's row lock (cloud.scheduler.services), so parallel
boots into one group cannot both pass on a stale view. Affinity names its
group's host to the candidate scan. Their SQL form counts what they removed,
for "No valid host" faults.
"""

from django.db.models import QuerySet

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.models import ServerGroupPolicy
from cloud.scheduler.request import HostState, Scheduling


def max_per_host(rules: dict) -> int:
    return int(rules.get("max_server_per_host", 1))


def hosts_full(group_hosts: dict[str, int], rules: dict) -> set[str]:
    limit = max_per_host(rules)
    return {host for host, count in group_hosts.items() if count >= limit}


def policy_allows(policy: str, rules: dict, placed: dict[str, int], host: str) -> bool:
    """Whether one more member may go to `host`, its group's members being on `placed`
    (host: count) so far; the soft policies allow any host."""
    if policy == ServerGroupPolicy.ANTI_AFFINITY:
        return placed.get(host, 0) < max_per_host(rules)
    if policy == ServerGroupPolicy.AFFINITY:
        return not placed or host in placed
    return True


class ServerGroupAffinityFilter(HostFilter):
    name = "ServerGroupAffinityFilter"
    in_candidate_query = False

    def applies(self, ctx: Scheduling) -> bool:
        group = ctx.group
        return group is not None and group.policy == ServerGroupPolicy.AFFINITY

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        hosts = set(ctx.group_hosts)
        return nodes.filter(host__in=hosts) if hosts else nodes

    def named_hosts(self, ctx: Scheduling) -> set[str] | None:
        return set(ctx.group_hosts) or None

    def host_passes(self, host: HostState, ctx: Scheduling) -> bool:
        return policy_allows(
            ServerGroupPolicy.AFFINITY, ctx.group.rules, ctx.group_hosts, host.name
        )

    def describe(self, ctx: Scheduling) -> str:
        return f"were not the host of affinity group {ctx.group.uuid}"


class ServerGroupAntiAffinityFilter(HostFilter):
    name = "ServerGroupAntiAffinityFilter"
    in_candidate_query = False

    def applies(self, ctx: Scheduling) -> bool:
        group = ctx.group
        return group is not None and group.policy == ServerGroupPolicy.ANTI_AFFINITY

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.exclude(host__in=hosts_full(ctx.group_hosts, ctx.group.rules))

    def host_passes(self, host: HostState, ctx: Scheduling) -> bool:
        policy = ServerGroupPolicy.ANTI_AFFINITY
        return policy_allows(policy, ctx.group.rules, ctx.group_hosts, host.name)

    def describe(self, ctx: Scheduling) -> str:
        return f"already held members of anti-affinity group {ctx.group.uuid}"
