"""Host weighers: each a small class, enabled by name in settings.SCHEDULER_WEIGHERS.

As in Nova, each weigher's raw values are normalised to 0..1 across the
candidates, multiplied by the weigher's multiplier setting (a negative
multiplier reverses it: pack instead of spread), and summed; the highest
total wins.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cloud.scheduler.request import HostState, Scheduling


class HostWeigher:
    name = ""
    multiplier_setting = ""

    def multiplier(self) -> float:
        return float(getattr(settings, self.multiplier_setting))

    def applies(self, ctx: Scheduling) -> bool:
        """Whether this weigher can tell the hosts apart for this request at all."""
        return True

    def weigh(self, host: HostState, ctx: Scheduling) -> float:
        raise NotImplementedError

    def weigh_all(self, hosts: list[HostState], ctx: Scheduling) -> list[float]:
        """Raw values of every host, in order (a weigher may compute them faster)."""
        return [self.weigh(host, ctx) for host in hosts]


def normalize(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def weigh(hosts: list[HostState], weighers: list[HostWeigher], ctx: Scheduling) -> list[float]:
    """Total weight of each host, in the order given."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        multiplier = weigher.multiplier()
        if not multiplier or not hosts or not weigher.applies(ctx):
            continue
        raw = weigher.weigh_all(hosts, ctx)
        for index, value in enumerate(normalize(raw)):
            totals[index] += multiplier * value
    return totals


def registry() -> dict[str, type[HostWeigher]]:
    from cloud.scheduler.weighers import failures, groups, resources

    classes = [
        resources.RAMWeigher,
        resources.CPUWeigher,
        resources.DiskWeigher,
        groups.ServerGroupSoftAffinityWeigher,
        groups.ServerGroupSoftAntiAffinityWeigher,
        failures.BuildFailureWeigher,
    ]
    return {cls.name: cls for cls in classes}


def load(names: list[str]) -> list[HostWeigher]:
    """The enabled weighers; an unknown name stops start-up."""
    known = registry()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ImproperlyConfigured(
            f"SCHEDULER_WEIGHERS names unknown weighers: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return [known[name]() for name in names]
