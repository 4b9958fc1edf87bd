"""Placement reads: which providers have room, and why others do not.

Candidates are found in SQL (one query with per-class capacity and usage
subqueries) so the scheduler never loads every host into Python.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    BigIntegerField,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from cloud.scheduler.models import Allocation, Inventory, ResourceClass, ResourceProvider


@dataclass(frozen=True)
class Candidate:
    provider_id: int
    name: str


def _capacity(rc: str) -> Subquery:
    inv = Inventory.objects.filter(provider=OuterRef("pk"), resource_class=rc)
    return Subquery(
        inv.annotate(
            cap=ExpressionWrapper(
                (F("total") - F("reserved")) * F("allocation_ratio"), output_field=FloatField()
            )
        ).values("cap")[:1]
    )


def _max_unit(rc: str) -> Subquery:
    return Subquery(
        Inventory.objects.filter(provider=OuterRef("pk"), resource_class=rc).values("max_unit")[:1]
    )


def _used(rc: str) -> Coalesce:
    used = (
        Allocation.objects.filter(provider=OuterRef("pk"), resource_class=rc)
        .values("provider")
        .annotate(s=Sum("used"))
        .values("s")
    )
    return Coalesce(Subquery(used, output_field=BigIntegerField()), Value(0))


def _with_usage(qs: QuerySet, classes: list[str]) -> QuerySet:
    for rc in classes:
        qs = qs.annotate(
            **{
                f"cap_{rc}": Coalesce(_capacity(rc), Value(0.0)),
                f"used_{rc}": _used(rc),
                f"max_{rc}": Coalesce(_max_unit(rc), Value(0)),
            }
        )
    return qs


def candidates(
    *, resources: dict[str, int], names: QuerySet, exclude: list[str], limit: int
) -> list[Candidate]:
    """Providers among `names` with room for `resources`, most free RAM first."""
    classes = list(resources)
    qs = _with_usage(ResourceProvider.objects.filter(name__in=names), classes)
    qs = qs.exclude(name__in=exclude)
    for rc, amount in resources.items():
        qs = qs.filter(**{f"cap_{rc}__gte": F(f"used_{rc}") + amount, f"max_{rc}__gte": amount})
    order_rc = ResourceClass.MEMORY_MB if ResourceClass.MEMORY_MB in resources else classes[0]
    qs = qs.annotate(free_order=F(f"cap_{order_rc}") - F(f"used_{order_rc}"))
    rows = qs.order_by("-free_order", "name").values_list("pk", "name")[:limit]
    return [Candidate(provider_id=pk, name=name) for pk, name in rows]


def shortfall_counts(*, resources: dict[str, int], names: QuerySet) -> dict[str, int]:
    """For each requested class, how many of the given providers lack room for it."""
    qs = _with_usage(ResourceProvider.objects.filter(name__in=names), list(resources))
    counts = {}
    for rc, amount in resources.items():
        counts[rc] = qs.exclude(**{f"cap_{rc}__gte": F(f"used_{rc}") + amount}).count()
    return counts


def provider_usage(*, name: str) -> dict[str, dict[str, int]]:
    """Capacity and usage per class of one provider (admin views)."""
    provider = ResourceProvider.objects.filter(name=name).first()
    if provider is None:
        return {}
    used = dict(
        Allocation.objects.filter(provider=provider)
        .values_list("resource_class")
        .annotate(total=Sum("used"))
    )
    return {
        inv.resource_class: {"capacity": inv.capacity, "used": used.get(inv.resource_class, 0)}
        for inv in provider.inventories.all()
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
    rows = (
        Allocation.objects.filter(provider__name__in=names)
        .values_list("provider__name", "resource_class")
        .annotate(total=Sum("used"))
    )
    for name, resource_class, total in rows:
        found[name][resource_class] = total
    return found
