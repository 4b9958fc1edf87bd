"""Soft server group weighers: prefer hosts holding more (soft-affinity) or fewer
(soft-anti-affinity) members of the instance's group."""

from cloud.scheduler.models import ServerGroupPolicy
from cloud.scheduler.request import HostState, Scheduling
from cloud.scheduler.weighers import HostWeigher


class _GroupWeigher(HostWeigher):
    policy = ""
    sign = 1.0

    def applies(self, ctx: Scheduling) -> bool:
        return ctx.group is not None and ctx.group.policy == self.policy

    def weigh(self, host: HostState, ctx: Scheduling) -> float:
        return self.sign * ctx.group_hosts.get(host.name, 0)


class ServerGroupSoftAffinityWeigher(_GroupWeigher):
    name = "ServerGroupSoftAffinityWeigher"
    multiplier_setting = "SOFT_AFFINITY_WEIGHT_MULTIPLIER"
    policy = ServerGroupPolicy.SOFT_AFFINITY


class ServerGroupSoftAntiAffinityWeigher(_GroupWeigher):
    name = "ServerGroupSoftAntiAffinityWeigher"
    multiplier_setting = "SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER"
    policy = ServerGroupPolicy.SOFT_ANTI_AFFINITY
    sign = -1.0
