"""AggregateInstanceExtraSpecsFilter: a flavor's extra specs must match the metadata of
one of the host's aggregates (keys unscoped or scoped `aggregate_instance_extra_specs:`).

Aggregates are few; matching them happens in Python once per decision, and the
hosts of the matching aggregates narrow the SQL query.
"""

from django.db.models import QuerySet

from cloud.hosts.selectors import aggregate_metadata_by_host
from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import Scheduling

SCOPE = "aggregate_instance_extra_specs"


def aggregate_specs(extra_specs: dict[str, str]) -> dict[str, str]:
    """The extra specs this filter judges: scoped ones, and unscoped ones (no ':')."""
    found = {}
    for key, value in extra_specs.items():
        scope, _, rest = key.partition(":")
        if not rest:
            found[key] = str(value)
        elif scope == SCOPE:
            found[rest] = str(value)
    return found


def _matches(wanted: str, have: str) -> bool:
    """Equality, or Nova's `<in>` / `<or>` / `s==` style operators when given."""
    parts = wanted.split()
    if len(parts) >= 2 and parts[0] == "<or>":
        return have in parts[1::2]
    if len(parts) == 2 and parts[0] in ("s==", "="):
        return have == parts[1]
    if len(parts) == 2 and parts[0] == "<in>":
        return parts[1] in have
    return have == wanted


class AggregateInstanceExtraSpecsFilter(HostFilter):
    name = "AggregateInstanceExtraSpecsFilter"

    def applies(self, ctx: Scheduling) -> bool:
        return bool(aggregate_specs(ctx.request.flavor_extra_specs))

    def allowed_hosts(self, ctx: Scheduling) -> set[str]:
        specs = aggregate_specs(ctx.request.flavor_extra_specs)
        per_host = aggregate_metadata_by_host()
        return {
            host
            for host, metadata in per_host.items()
            if all(
                any(_matches(value, have) for have in metadata.get(key, ()))
                for key, value in specs.items()
            )
        }

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        return nodes.filter(host__in=self.allowed_hosts(ctx))

    def describe(self, ctx: Scheduling) -> str:
        specs = aggregate_specs(ctx.request.flavor_extra_specs)
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(specs.items()))
        return f"had no aggregate matching {wanted}"
