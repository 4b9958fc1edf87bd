"""ResourcesFilter: hosts with room for every requested resource class.

The candidate query itself applies this (an index scan on free capacity);
`narrow` states the same condition on compute nodes, for counting in
"No valid host" faults, one resource class at a time.
"""

from django.db.models import Exists, OuterRef, QuerySet

from cloud.placement.selectors import room
from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import Scheduling

NAMES = {"MEMORY_MB": "RAM", "VCPU": "VCPU", "DISK_GB": "disk"}
UNITS = {"MEMORY_MB": "MB", "VCPU": "", "DISK_GB": "GB"}
ORDER = ["MEMORY_MB", "VCPU", "DISK_GB"]


def wanted(ctx: Scheduling) -> list[tuple[str, int]]:
    asked = ctx.request.resources
    ordered = [rc for rc in ORDER if rc in asked] + sorted(set(asked) - set(ORDER))
    return [(rc, asked[rc]) for rc in ordered if asked[rc]]


def describe_need(rc: str, amount: int) -> str:
    """'RAM for 4096 MB', as in "80 lacked RAM for 4096 MB"."""
    return f"{NAMES.get(rc, rc)} for {amount} {UNITS.get(rc, '')}".rstrip()


def describe_amount(rc: str, amount: int) -> str:
    """'4096 MB RAM', '1 VCPU'."""
    unit = UNITS.get(rc, "")
    return f"{amount} {unit + ' ' if unit else ''}{NAMES.get(rc, rc)}"


class ResourcesFilter(HostFilter):
    name = "ResourcesFilter"
    in_candidate_query = False

    def narrow(self, nodes: QuerySet, ctx: Scheduling) -> QuerySet:
        for stage, _ in self.stages(nodes, ctx):
            nodes = stage
        return nodes

    def stages(self, nodes: QuerySet, ctx: Scheduling) -> list[tuple[QuerySet, str]]:
        found = []
        for rc, amount in wanted(ctx):
            nodes = nodes.filter(Exists(room(rc, amount).filter(provider__name=OuterRef("host"))))
            found.append((nodes, f"lacked {describe_need(rc, amount)}"))
        return found
