"""Placement reads: which providers have room, and why others do not.

Candidates are found in SQL, by an index scan on free capacity (the
inventories keep capacity and usage in columns, see cloud.scheduler.models),
so the scheduler never loads every host into Python.
"""

from datetime import datetime

from django.db.models import Exists, F, OuterRef, QuerySet

from cloud.hosts.models import ComputeNode
from cloud.scheduler.models import Allocation, Inventory, ResourceClass
from cloud.scheduler.request import HostState


def candidates(
    *,
    resources: dict[str, int],
    nodes: QuerySet,
    offset: int,
    limit: int,
    most_free_first: bool = True,
) -> list[HostState]:
    """Hosts among `nodes` (a compute-node queryset, already narrowed by the filters) with
    room for `resources`, by free memory: an index scan on the inventories' free capacity
    that stops after `limit` rows, then one query each for their inventories and nodes."""
    wanted = [(rc, amount) for rc, amount in resources.items() if amount]
    if not wanted:
        wanted = [(ResourceClass.MEMORY_MB, 0)]
    primary = next(
        ((rc, amount) for rc, amount in wanted if rc == ResourceClass.MEMORY_MB), wanted[0]
    )
    qs = (
        Inventory.objects.filter(resource_class=primary[0])
        .alias(free=F("capacity") - F("used"))
        .filter(free__gte=primary[1], min_unit__lte=primary[1], max_unit__gte=primary[1])
        .filter(Exists(nodes.filter(host=OuterRef("provider__name"))))
    )
    for rc, amount in wanted:
        if rc != primary[0]:
            qs = qs.filter(Exists(room(rc, amount).filter(provider_id=OuterRef("provider_id"))))
    order = "-free" if most_free_first else "free"
    rows = list(
        qs.order_by(order, "provider_id").values_list("provider_id", "provider__name")[
            offset : offset + limit
        ]
    )
    return host_states(rows)


def room(rc: str, amount: int) -> QuerySet:
    """Inventories of this class with room for the amount (correlate it with the caller)."""
    # Written as the `inventory_free` index expression, so PostgreSQL uses its statistics.
    return (
        Inventory.objects.filter(resource_class=rc, min_unit__lte=amount, max_unit__gte=amount)
        .alias(free=F("capacity") - F("used"))
        .filter(free__gte=amount)
    )


def host_states(rows: list[tuple[int, str]]) -> list[HostState]:
    """HostStates of (provider id, host name) pairs, in the order given."""
    if not rows:
        return []
    free: dict[int, dict[str, int]] = {pk: {} for pk, _ in rows}
    capacity: dict[int, dict[str, int]] = {pk: {} for pk, _ in rows}
    for pk, rc, cap, used in Inventory.objects.filter(provider_id__in=free).values_list(
        "provider_id", "resource_class", "capacity", "used"
    ):
        free[pk][rc] = cap - used
        capacity[pk][rc] = cap
    nodes = {
        node.host: node
        for node in ComputeNode.objects.filter(host__in=[name for _, name in rows]).only(
            "host", "availability_zone", "hypervisor_type", "cpu_info", "failed_builds"
        )
    }
    found = []
    for pk, name in rows:
        node = nodes.get(name)
        if node is None:
            continue
        found.append(
            HostState(
                provider_id=pk,
                name=name,
                free=free[pk],
                capacity=capacity[pk],
                zone=node.availability_zone,
                hypervisor_type=node.hypervisor_type,
                architecture=(node.cpu_info or {}).get("arch"),
                failed_builds=node.failed_builds,
            )
        )
    return found


def provider_usage(*, name: str) -> dict[str, dict[str, int]]:
    """Capacity and usage per class of one provider (admin views)."""
    return {
        rc: {"capacity": capacity, "used": used}
        for rc, capacity, used in Inventory.objects.filter(provider__name=name).values_list(
            "resource_class", "capacity", "used"
        )
    }


def consumer_provider(*, consumer_id: str) -> str | None:
    """The provider a consumer already holds resources on, if any."""
    return (
        Allocation.objects.filter(consumer_id=consumer_id)
        .values_list("provider__name", flat=True)
        .first()
    )


def consumers_claimed_before(*, cutoff: datetime) -> set[str]:
    """Consumers holding allocations made before `cutoff`."""
    return set(
        Allocation.objects.filter(created_at__lt=cutoff)
        .values_list("consumer_id", flat=True)
        .distinct()
    )


def usage_by_provider(*, names: list[str]) -> dict[str, dict[str, int]]:
    """Allocated amounts per class of each named provider, in one query (admin views)."""
    found: dict[str, dict[str, int]] = {name: {} for name in names}
    rows = Inventory.objects.filter(provider__name__in=names).values_list(
        "provider__name", "resource_class", "used"
    )
    for name, resource_class, used in rows:
        found[name][resource_class] = used
    return found
