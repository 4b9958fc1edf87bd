"""Placement reads: providers by filter and by tree, their inventories, traits,
aggregates and allocations, usages, resource classes and traits, allocation
candidates (found in SQL on the inventories' capacity and used columns), and what
other apps ask of placement (room for an amount, who holds what where).

Provider trees are walked one query per level: the model keeps a parent, not a
root, and trees are a few levels deep.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Sum, Value
from django.db.models.functions import Mod

from cloud.api.parsing import uuid_or_none
from cloud.placement import standard
from cloud.placement.models import (
    Allocation,
    Consumer,
    CustomResourceClass,
    Inventory,
    ProviderAggregate,
    ResourceProvider,
    Trait,
)

ProviderTraits = ResourceProvider.traits.through


@dataclass(frozen=True)
class MemberOf:
    """One member_of filter: in any of these aggregates (or, forbidden, in none of them)."""

    aggregates: tuple[str, ...]
    forbidden: bool = False


@dataclass(frozen=True)
class TraitFilter:
    """Traits a provider must have (all), must lack (all), and must have one of (each group)."""

    required: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()
    any_of: tuple[frozenset[str], ...] = ()

    def names(self) -> set[str]:
        return {*self.required, *self.forbidden, *(name for group in self.any_of for name in group)}


@dataclass(frozen=True)
class ProviderFilter:
    """What GET /resource_providers and GET /allocation_candidates ask of a provider; each
    filter given narrows the answer (resources: room for every amount)."""

    name: str | None = None
    uuid: str | None = None
    member_of: tuple[MemberOf, ...] = ()
    resources: dict[str, int] = field(default_factory=dict)
    traits: TraitFilter = TraitFilter()
    in_tree: str | None = None
    root_traits: TraitFilter = TraitFilter()


def room(rc: str, amount: int) -> QuerySet:
    """Inventories of this class with room for the amount (correlate it with the caller)."""
    # Written as the `inventory_free` index expression, so PostgreSQL uses its statistics.
    return (
        Inventory.objects.filter(resource_class=rc, min_unit__lte=amount, max_unit__gte=amount)
        .alias(free=F("capacity") - F("used"), off_step=Mod(Value(amount), F("step_size")))
        .filter(free__gte=amount, off_step=0)
    )


def provider_get(*, provider_uuid: str) -> ResourceProvider | None:
    found = uuid_or_none(provider_uuid)
    return ResourceProvider.objects.filter(uuid=found).first() if found is not None else None


def _traits(qs: QuerySet, traits: TraitFilter) -> QuerySet:
    """Providers of qs with the traits asked for."""
    for name in sorted(traits.required):
        qs = qs.filter(
            Exists(
                ProviderTraits.objects.filter(resourceprovider_id=OuterRef("pk"), trait__name=name)
            )
        )
    for name in sorted(traits.forbidden):
        qs = qs.exclude(
            Exists(
                ProviderTraits.objects.filter(resourceprovider_id=OuterRef("pk"), trait__name=name)
            )
        )
    for group in traits.any_of:
        qs = qs.filter(
            Exists(
                ProviderTraits.objects.filter(
                    resourceprovider_id=OuterRef("pk"), trait__name__in=sorted(group)
                )
            )
        )
    return qs


def providers_filter(*, filters: ProviderFilter) -> QuerySet:
    """Providers matching every filter given, in creation order."""
    qs = ResourceProvider.objects.order_by("pk")
    if filters.name is not None:
        qs = qs.filter(name=filters.name)
    if filters.uuid is not None:
        qs = qs.filter(uuid=filters.uuid)
    for member in filters.member_of:
        inside = Exists(
            ProviderAggregate.objects.filter(
                provider_id=OuterRef("pk"), aggregate__in=member.aggregates
            )
        )
        qs = qs.exclude(inside) if member.forbidden else qs.filter(inside)
    for rc, amount in sorted(filters.resources.items()):
        qs = qs.filter(Exists(room(rc, amount).filter(provider_id=OuterRef("pk"))))
    qs = _traits(qs, filters.traits)
    if filters.in_tree is not None:
        found = provider_get(provider_uuid=filters.in_tree)
        qs = qs.filter(pk__in=tree_ids(root_ids=[root_id(provider=found)]) if found else [])
    if filters.root_traits.names():
        roots = _traits(ResourceProvider.objects.filter(parent__isnull=True), filters.root_traits)
        qs = qs.filter(pk__in=tree_ids(root_ids=list(roots.values_list("pk", flat=True))))
    return qs


def root_id(*, provider: ResourceProvider) -> int:
    """The id of the root of the provider's tree."""
    pk, parent_id = provider.pk, provider.parent_id
    while parent_id is not None:
        pk, parent_id = ResourceProvider.objects.values_list("pk", "parent_id").get(pk=parent_id)
    return pk


def tree_ids(*, root_ids: list[int]) -> set[int]:
    """The ids of every provider in the trees under these roots."""
    found, level = set(root_ids), set(root_ids)
    while level:
        level = set(
            ResourceProvider.objects.filter(parent_id__in=level).values_list("pk", flat=True)
        )
        level -= found
        found |= level
    return found


def lineage(*, providers: Iterable[ResourceProvider]) -> dict[int, tuple[str | None, str]]:
    """(parent uuid, root uuid) of each provider, as strings."""
    known: dict[int, tuple[int | None, str]] = {p.pk: (p.parent_id, str(p.uuid)) for p in providers}
    wanted = list(known)
    missing = {parent for parent, _ in known.values() if parent is not None} - set(known)
    while missing:
        for pk, parent_id, provider_uuid in ResourceProvider.objects.filter(
            pk__in=missing
        ).values_list("pk", "parent_id", "uuid"):
            known[pk] = (parent_id, str(provider_uuid))
        missing = {parent for parent, _ in known.values() if parent is not None} - set(known)
    found = {}
    for pk in wanted:
        parent_id, _ = known[pk]
        top = pk
        while known[top][0] is not None:
            top = known[top][0]
        found[pk] = (known[parent_id][1] if parent_id is not None else None, known[top][1])
    return found


def inventories_of(*, provider_ids: Iterable[int]) -> dict[int, list[Inventory]]:
    found: dict[int, list[Inventory]] = {}
    for inv in Inventory.objects.filter(provider_id__in=list(provider_ids)).order_by(
        "resource_class"
    ):
        found.setdefault(inv.provider_id, []).append(inv)
    return found


def _among(column: str, ids: list[int]) -> tuple[str, list]:
    """`column` among `ids`, as SQL and parameters: one array parameter on PostgreSQL
    (a thousand placeholders cost psycopg more to send than the query costs to run)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [ids]
    return f"{column} IN ({', '.join(['%s'] * len(ids)) or 'NULL'})", ids


def traits_of(*, provider_ids: Iterable[int]) -> dict[int, list[str]]:
    """The trait names of each provider, sorted, in one query."""
    where, params = _among("pt.resourceprovider_id", list(provider_ids))
    found: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pt.resourceprovider_id, t.name FROM {ProviderTraits._meta.db_table} pt "
            f"JOIN {Trait._meta.db_table} t ON t.id = pt.trait_id WHERE {where} ORDER BY t.name",
            params,
        )
        for provider_id, name in cursor.fetchall():
            found.setdefault(provider_id, []).append(name)
    return found


def aggregates_of(*, provider: ResourceProvider) -> list[str]:
    return [
        str(aggregate)
        for aggregate in provider.aggregates.order_by("aggregate").values_list(
            "aggregate", flat=True
        )
    ]


def resource_class_names() -> list[str]:
    """Every resource class: the standard ones, then the custom ones by age."""
    return [
        *standard.RESOURCE_CLASSES,
        *CustomResourceClass.objects.order_by("pk").values_list("name", flat=True),
    ]


def resource_classes_unknown(*, names: Iterable[str]) -> set[str]:
    asked = set(names) - set(standard.RESOURCE_CLASSES)
    return asked - set(
        CustomResourceClass.objects.filter(name__in=asked).values_list("name", flat=True)
    )


def trait_names(
    *, prefix: str | None = None, names: list[str] | None = None, associated: bool | None = None
) -> list[str]:
    """Every trait (standard and custom) matching the filters, by name."""
    found = set(standard.TRAITS) | set(Trait.objects.values_list("name", flat=True))
    if prefix is not None:
        found = {name for name in found if name.startswith(prefix)}
    if names is not None:
        found &= set(names)
    if associated is not None:
        used = set(
            Trait.objects.filter(
                Exists(ProviderTraits.objects.filter(trait_id=OuterRef("pk")))
            ).values_list("name", flat=True)
        )
        found = found & used if associated else found - used
    return sorted(found)


def traits_unknown(*, names: Iterable[str]) -> set[str]:
    asked = set(names) - standard.TRAITS
    return asked - set(Trait.objects.filter(name__in=asked).values_list("name", flat=True))


def consumer_allocations(*, consumer_id: str) -> tuple[list[Allocation], Consumer | None]:
    """What a consumer holds (with its providers), and its consumer row."""
    rows = list(
        Allocation.objects.filter(consumer_id=consumer_id)
        .select_related("provider")
        .order_by("provider_id", "resource_class")
    )
    return rows, Consumer.objects.filter(uuid=consumer_id).first() if rows else None


def provider_allocations(
    *, provider: ResourceProvider
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """What each consumer holds on the provider, and those consumers' generations."""
    held: dict[str, dict[str, int]] = {}
    for consumer_id, rc, used in provider.allocations.order_by(
        "consumer_id", "resource_class"
    ).values_list("consumer_id", "resource_class", "used"):
        held.setdefault(consumer_id, {})[rc] = used
    generations = dict(
        Consumer.objects.filter(uuid__in=list(held)).values_list("uuid", "generation")
    )
    return held, generations


def project_usages(*, project_id: str, user_id: str | None = None) -> tuple[dict[str, int], int]:
    """What the project's (or the user's in it) consumers hold, per class, and how many
    consumers hold it."""
    rows = Allocation.objects.filter(project_id=project_id)
    if user_id is not None:
        rows = rows.filter(consumer_id__in=Consumer.objects.filter(user_id=user_id).values("uuid"))
    usages = dict(
        rows.values("resource_class")
        .annotate(total=Sum("used"))
        .values_list("resource_class", "total")
    )
    consumers = rows.aggregate(n=Count("consumer_id", distinct=True))["n"]
    return usages, consumers


# --- what other apps ask of placement -------------------------------------------------


def providers_named(*, names: Iterable[str] | QuerySet) -> list[tuple[int, str]]:
    """(id, name) of the providers with these names (a list, or a query of names)."""
    return list(ResourceProvider.objects.filter(name__in=names).values_list("pk", "name"))


def provider_capacities(*, provider_ids: Iterable[int]) -> dict[int, dict[str, tuple[int, int]]]:
    """(capacity, used) of each class of each provider, classes in name order, in one
    query."""
    where, params = _among("provider_id", list(provider_ids))
    found: dict[int, dict[str, tuple[int, int]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT provider_id, resource_class, capacity, used FROM {Inventory._meta.db_table} "
            f"WHERE {where} ORDER BY resource_class",
            params,
        )
        for pk, rc, capacity, used in cursor.fetchall():
            found.setdefault(pk, {})[rc] = (capacity, used)
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


def inventories_all() -> dict[str, dict[str, dict[str, float]]]:
    """Every provider's inventory per class (total, reserved, allocation_ratio, capacity
    with the ratio applied, used), in one query (the admin dashboard, /metrics)."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    rows = Inventory.objects.values_list(
        "provider__name",
        "resource_class",
        "total",
        "reserved",
        "allocation_ratio",
        "capacity",
        "used",
    )
    for name, rc, total, reserved, ratio, capacity, used in rows:
        found.setdefault(name, {})[rc] = {
            "total": total,
            "reserved": reserved,
            "allocation_ratio": ratio,
            "capacity": capacity,
            "used": used,
        }
    return found
