"""BuildFailureWeigher: hosts where builds failed recently weigh less (Nova's default
multiplier is large, so one failure outweighs the resource weighers)."""

from cloud.scheduler.request import HostState, Scheduling
from cloud.scheduler.weighers import HostWeigher


class BuildFailureWeigher(HostWeigher):
    name = "BuildFailureWeigher"
    multiplier_setting = "BUILD_FAILURE_WEIGHT_MULTIPLIER"

    def weigh(self, host: HostState, ctx: Scheduling) -> float:
        return -float(host.failed_builds)
