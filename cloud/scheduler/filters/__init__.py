"""Host filters: each a small class, enabled by name in settings.SCHEDULER_FILTERS (in order).

A filter may narrow the SQL candidate query (`narrow`, on a queryset of
compute nodes) and may judge each candidate in Python (`host_passes`), which
then sees only the bounded set SQL returned. `reason` (or `stages`, for a
filter with several steps) words what the filter removed, for "No valid
host" faults.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from cloud.scheduler.request import HostState, Scheduling


class HostFilter:
    name = ""
    reason = "were filtered out"
    # Whether the candidate query applies `narrow`. A filter whose condition the scan
    # applies another way (the index scan on free room; `host_passes` on the bounded
    # set, which also sees the members a pass has placed so far) narrows only to count
    # what it removed, for faults.
    in_candidate_query = True

    def applies(self, ctx: Scheduling) -> bool:
        return True

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes

    def host_passes(self, host: HostState, ctx: Scheduling) -> bool:
        return True

    def narrow_key(self, ctx: Scheduling) -> tuple | None:
        """What `narrow` depends on, when that is the request alone (then the narrowed
        query is compiled once per process and key); None when it reads the database
        (group members, aggregates, instances named by hints)."""
        return None

    def named_hosts(self, ctx: Scheduling) -> set[str] | None:
        """The only hosts this filter can let through, when it names them (else None)."""
        return None

    @property
    def narrows(self) -> bool:
        """Whether this filter states its condition in SQL (`narrow`)."""
        return type(self).narrow is not HostFilter.narrow

    @property
    def judges_hosts(self) -> bool:
        """Whether this filter has a Python check (run on the bounded candidate set)."""
        return type(self).host_passes is not HostFilter.host_passes

    def describe(self, ctx: Scheduling) -> str:
        return self.reason

    def stages(self, nodes: QuerySet, ctx: Scheduling) -> list[tuple[QuerySet, str]]:
        """The narrowing in steps, each with what it removes (for fault messages)."""
        return [(self.narrow(nodes, ctx), self.describe(ctx))]


def registry() -> dict[str, type[HostFilter]]:
    from cloud.scheduler.filters import (
        aggregates,
        compute,
        groups,
        hints,
        images,
        json_filter,
        resources,
        zones,
    )

    classes = [
        compute.ComputeFilter,
        resources.ResourcesFilter,
        zones.AvailabilityZoneFilter,
        aggregates.AggregateInstanceExtraSpecsFilter,
        images.ImagePropertiesFilter,
        groups.ServerGroupAffinityFilter,
        groups.ServerGroupAntiAffinityFilter,
        hints.SameHostFilter,
        hints.DifferentHostFilter,
        json_filter.JsonFilter,
    ]
    return {cls.name: cls for cls in classes}


def load(names: list[str]) -> list[HostFilter]:
    """The enabled filters, in order; an unknown name stops start-up."""
    known = registry()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ImproperlyConfigured(
            f"SCHEDULER_FILTERS names unknown filters: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    if "ResourcesFilter" not in names:
        raise ImproperlyConfigured("SCHEDULER_FILTERS must include ResourcesFilter.")
    return [known[name]() for name in names]
