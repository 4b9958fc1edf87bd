"""Placement API writes: providers, their inventories, traits and aggregates, resource
classes and traits, and consumers' allocations, each checked against the generation
the caller last saw.

A generation check and the write it guards are one transaction: the provider's (or
the consumer's) row is locked first, so nothing moves the generation between the
compare and the write. Inventories and allocations themselves are written by
cloud.placement.claims, which keeps every inventory's `used` in step.
Errors are the API's, with Placement's error codes.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.placement import standard
from cloud.placement.claims import (
    ClaimRejected,
    ConsumerAllocations,
    ConsumerExists,
    InventoryInUse,
    InventorySpec,
    allocations_claim_new_many,
    allocations_delete,
    allocations_set_many,
    inventories_replace,
    resource_class_rename,
)
from cloud.placement.models import (
    Allocation,
    Consumer,
    CustomResourceClass,
    Inventory,
    ProviderAggregate,
    ResourceProvider,
    Trait,
)
from cloud.placement.selectors import (
    resource_classes_unknown,
    traits_unknown,
    tree_ids,
)

CONCURRENT_UPDATE = "placement.concurrent_update"
INVENTORY_IN_USE = "placement.inventory.inuse"
DUPLICATE_NAME = "placement.duplicate_name"
PROVIDER_IN_USE = "placement.resource_provider.inuse"
CANNOT_DELETE_PARENT = "placement.resource_provider.cannot_delete_parent"

GENERATION_CONFLICT = (
    "resource provider generation conflict: the provider changed since it was read; "
    "read it again and retry."
)


# --- providers -------------------------------------------------------------------


def _locked(provider: ResourceProvider, generation: int | None = None) -> ResourceProvider:
    """The provider's row, locked to the end of the transaction; a generation other than
    the one given (when given) is a conflict."""
    row = ResourceProvider.objects.select_for_update().filter(pk=provider.pk).first()
    if row is None:
        raise NotFound(f"No resource provider with uuid {provider.uuid} found")
    if generation is not None and row.generation != generation:
        raise Conflict(GENERATION_CONFLICT, code=CONCURRENT_UPDATE)
    return row


def _bump(provider: ResourceProvider) -> None:
    ResourceProvider.objects.filter(pk=provider.pk).update(
        generation=F("generation") + 1, updated_at=timezone.now()
    )


def _fresh(provider: ResourceProvider) -> ResourceProvider:
    return ResourceProvider.objects.get(pk=provider.pk)


def _parent(parent_uuid: str, failure: str) -> ResourceProvider:
    parent = ResourceProvider.objects.filter(uuid=parent_uuid).first()
    if parent is None:
        raise BadRequest(f"{failure}: parent provider UUID does not exist.")
    return parent


def _name_free(name: str, exclude: ResourceProvider | None = None) -> None:
    taken = ResourceProvider.objects.filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(
            f"Conflicting resource provider name: {name} already exists.", code=DUPLICATE_NAME
        )


def provider_create(
    *, name: str, provider_uuid: str, parent_uuid: str | None = None
) -> ResourceProvider:
    failure = f'Unable to create resource provider "{name}", {provider_uuid}'
    with transaction.atomic():
        parent = _parent(parent_uuid, failure) if parent_uuid else None
        if ResourceProvider.objects.filter(uuid=provider_uuid).exists():
            raise Conflict(
                f"Conflicting resource provider uuid: {provider_uuid} already exists.",
                code=DUPLICATE_NAME,
            )
        _name_free(name)
        try:
            with transaction.atomic():
                return ResourceProvider.objects.create(uuid=provider_uuid, name=name, parent=parent)
        except IntegrityError as exc:
            raise Conflict(
                f"Conflicting resource provider {name} already exists.", code=DUPLICATE_NAME
            ) from exc


def provider_update(
    *,
    provider: ResourceProvider,
    name: str,
    parent_uuid: str | None = None,
    set_parent: bool = False,
    reparent: bool = False,
) -> ResourceProvider:
    """Rename the provider and, when `set_parent`, give it a parent: any parent (or none)
    when `reparent` (microversion 1.37), else only a first one."""
    failure = f"Unable to save resource provider {provider.uuid}"
    with transaction.atomic():
        row = _locked(provider)
        parent_id = row.parent_id
        if set_parent:
            parent = _parent(parent_uuid, failure) if parent_uuid else None
            parent_id = parent.pk if parent else None
            if row.parent_id not in (None, parent_id) and not reparent:
                what = "re-parenting" if parent_id else "un-parenting"
                raise BadRequest(f"{failure}: {what} a provider is not currently allowed.")
            if parent_id is not None and parent_id in tree_ids(root_ids=[row.pk]):
                raise BadRequest(f"{failure}: creating loop in the provider tree is not allowed.")
        _name_free(name, exclude=row)
        ResourceProvider.objects.filter(pk=row.pk).update(
            name=name, parent_id=parent_id, updated_at=timezone.now()
        )
        return _fresh(row)


def provider_delete(*, provider: ResourceProvider) -> None:
    """Delete a provider that holds no allocations and has no children, with its
    inventories, traits and aggregates."""
    with transaction.atomic():
        row = _locked(provider)
        if Allocation.objects.filter(provider=row).exists():
            raise Conflict(
                f"Unable to delete resource provider {row.uuid}: "
                "Resource provider has allocations.",
                code=PROVIDER_IN_USE,
            )
        if row.children.exists():
            raise Conflict(
                f"Unable to delete parent resource provider {row.uuid}: "
                "It has child resource providers.",
                code=CANNOT_DELETE_PARENT,
            )
        inventories_replace(provider=row, inventories={})
        row.delete()


# --- inventories -----------------------------------------------------------------


def _specs(provider: ResourceProvider) -> dict[str, InventorySpec]:
    return {
        inv.resource_class: InventorySpec(
            total=inv.total,
            reserved=inv.reserved,
            allocation_ratio=inv.allocation_ratio,
            min_unit=inv.min_unit,
            max_unit=inv.max_unit,
            step_size=inv.step_size,
        )
        for inv in Inventory.objects.filter(provider=provider)
    }


def _replace(row: ResourceProvider, inventories: dict[str, InventorySpec]) -> ResourceProvider:
    unknown = resource_classes_unknown(names=inventories)
    if unknown:
        raise BadRequest(
            f"Unknown resource class in inventory for resource provider {row.uuid}: "
            f"No such resource class {', '.join(sorted(unknown))}."
        )
    try:
        inventories_replace(provider=row, inventories=inventories)
    except InventoryInUse as exc:
        raise Conflict(f"update conflict: {exc}", code=INVENTORY_IN_USE) from exc
    return _fresh(row)


def inventories_set(
    *,
    provider: ResourceProvider,
    generation: int | None,
    inventories: dict[str, InventorySpec],
) -> ResourceProvider:
    """Make the provider's inventories exactly these (None: no generation check)."""
    with transaction.atomic():
        return _replace(_locked(provider, generation), inventories)


def inventory_add(
    *, provider: ResourceProvider, resource_class: str, spec: InventorySpec
) -> ResourceProvider:
    with transaction.atomic():
        row = _locked(provider)
        current = _specs(row)
        if resource_class in current:
            raise Conflict(
                f"Update conflict: Inventory for {resource_class} on resource provider "
                f"{row.uuid} already exists.",
                code=CONCURRENT_UPDATE,
            )
        return _replace(row, {**current, resource_class: spec})


def inventory_update(
    *, provider: ResourceProvider, generation: int, resource_class: str, spec: InventorySpec
) -> ResourceProvider:
    with transaction.atomic():
        row = _locked(provider, generation)
        current = _specs(row)
        if resource_class not in current:
            raise BadRequest(
                f"No inventory record with resource class for resource provider {row.uuid}: "
                f"Inventory with resource class {resource_class} not found."
            )
        return _replace(row, {**current, resource_class: spec})


def inventory_delete(*, provider: ResourceProvider, resource_class: str) -> None:
    with transaction.atomic():
        row = _locked(provider)
        current = _specs(row)
        if resource_class not in current:
            raise NotFound(f"No inventory of class {resource_class} found for delete")
        del current[resource_class]
        _replace(row, current)


# --- traits and aggregates of a provider -------------------------------------------


def provider_traits_set(
    *, provider: ResourceProvider, generation: int | None, names: list[str]
) -> ResourceProvider:
    """Give the provider exactly these traits (None: no generation check)."""
    with transaction.atomic():
        row = _locked(provider, generation)
        unknown = traits_unknown(names=names)
        if unknown:
            raise BadRequest(f"No such trait(s): {', '.join(sorted(unknown))}")
        for name in sorted(set(names) & standard.TRAITS):
            Trait.objects.get_or_create(name=name)
        row.traits.set(Trait.objects.filter(name__in=names))
        _bump(row)
        return _fresh(row)


def provider_aggregates_set(
    *, provider: ResourceProvider, generation: int | None, aggregates: list[str]
) -> ResourceProvider:
    """Put the provider in exactly these aggregates. With a generation (microversion
    1.19) the write is checked against it and moves it on; without, neither."""
    with transaction.atomic():
        row = _locked(provider, generation)
        ProviderAggregate.objects.filter(provider=row).exclude(aggregate__in=aggregates).delete()
        have = {str(a) for a in row.aggregates.values_list("aggregate", flat=True)}
        ProviderAggregate.objects.bulk_create(
            ProviderAggregate(provider=row, aggregate=aggregate)
            for aggregate in sorted(set(aggregates) - have)
        )
        if generation is not None:
            _bump(row)
        return _fresh(row)


# --- resource classes and traits ---------------------------------------------------


def resource_class_create(*, name: str) -> bool:
    """Create a custom resource class; False when it already exists."""
    if name in standard.RESOURCE_CLASSES:
        return False
    _, created = CustomResourceClass.objects.get_or_create(name=name)
    return created


def resource_class_update(*, name: str, new_name: str) -> None:
    """Rename a custom resource class (microversions before 1.7)."""
    with transaction.atomic():
        if name in standard.RESOURCE_CLASSES:
            raise BadRequest(f"Cannot update standard resource class {name}")
        if not CustomResourceClass.objects.select_for_update().filter(name=name).exists():
            raise NotFound(f"No such resource class {name}.")
        if new_name in standard.RESOURCE_CLASSES or (
            CustomResourceClass.objects.filter(name=new_name).exists()
        ):
            raise Conflict(f"Resource class already exists: {new_name}")
        resource_class_rename(old=name, new=new_name)


def resource_class_delete(*, name: str) -> None:
    with transaction.atomic():
        if name in standard.RESOURCE_CLASSES:
            raise BadRequest(
                f"Error in delete resource class: Cannot delete standard resource class {name}."
            )
        found = CustomResourceClass.objects.select_for_update().filter(name=name).first()
        if found is None:
            raise NotFound(f"No such resource class {name}.")
        if Inventory.objects.filter(resource_class=name).exists():
            raise Conflict(
                f"Error in delete resource class: Unable to delete resource class {name}. "
                "Class is in use in inventory."
            )
        found.delete()


def trait_create(*, name: str) -> bool:
    """Create a custom trait; False when it already exists."""
    if name in standard.TRAITS:
        return False
    _, created = Trait.objects.get_or_create(name=name)
    return created


def trait_delete(*, name: str) -> None:
    with transaction.atomic():
        if name in standard.TRAITS:
            raise BadRequest(f"Cannot delete standard trait {name}.")
        found = Trait.objects.select_for_update().filter(name=name).first()
        if found is None:
            raise NotFound(f"No such trait(s): {name}.")
        if found.providers.exists():
            raise Conflict(f"The trait {name} is in use by a resource provider.")
        found.delete()


# --- allocations -------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerWrite:
    """What the caller wants a consumer to hold: {provider uuid: {class: amount}} (empty:
    nothing), and the consumer generation it last saw (None: a new consumer)."""

    project_id: str
    user_id: str
    allocations: dict[str, dict[str, int]]
    generation: int | None = None


def _provider_ids(consumers: dict[str, ConsumerWrite]) -> dict[str, int]:
    wanted = sorted({p for write in consumers.values() for p in write.allocations})
    found = {
        str(provider_uuid): pk
        for provider_uuid, pk in ResourceProvider.objects.filter(uuid__in=wanted).values_list(
            "uuid", "pk"
        )
    }
    for provider_uuid in wanted:
        if provider_uuid not in found:
            raise BadRequest(
                f"Allocation for resource provider '{provider_uuid}' that does not exist."
            )
    return found


def _known(consumers: dict[str, ConsumerWrite]) -> dict[str, int]:
    """The ids of the providers the writes name; a 400 for an unknown provider or class."""
    providers = _provider_ids(consumers)
    classes = {rc for write in consumers.values() for r in write.allocations.values() for rc in r}
    unknown = resource_classes_unknown(names=classes)
    if unknown:
        raise BadRequest(
            f"Unable to allocate inventory: No such resource class {', '.join(sorted(unknown))}."
        )
    return providers


def _claimed_new(consumers: dict[str, ConsumerWrite]) -> bool:
    """Claim for consumers that must be new and are, as the scheduler's claims are made
    (cloud.placement.claims.allocations_claim_new_many); False, with nothing written,
    when this is not such a write or one of them exists already."""
    new = all(w.generation is None and w.allocations for w in consumers.values())
    if not new:
        return False
    providers = _known(consumers)
    claims = [
        (consumer_id, write.project_id, providers[provider_uuid], resources)
        for consumer_id, write in consumers.items()
        for provider_uuid, resources in write.allocations.items()
    ]
    users = {consumer_id: write.user_id for consumer_id, write in consumers.items()}
    try:
        allocations_claim_new_many(claims, users=users)
    except ConsumerExists:
        return False
    except ClaimRejected as exc:
        raise Conflict(f"Unable to allocate inventory: {exc}") from exc
    return True


def _check_generations(consumers: dict[str, ConsumerWrite]) -> None:
    current = dict(
        Consumer.objects.select_for_update()
        .filter(uuid__in=sorted(consumers))
        .order_by("uuid")
        .values_list("uuid", "generation")
    )
    for consumer_id, write in sorted(consumers.items()):
        have = current.get(consumer_id)
        if have != write.generation:
            expected = "null" if have is None else have
            raise Conflict(
                f"consumer generation conflict - expected {expected} but got {write.generation}",
                code=CONCURRENT_UPDATE,
            )


def _check_created(consumers: dict[str, ConsumerWrite]) -> None:
    """A consumer the caller expected to be new must be new still: another request that
    created it meanwhile moved its generation past 0 in our write."""
    new = [c for c, write in consumers.items() if write.generation is None and write.allocations]
    if Consumer.objects.filter(uuid__in=new, generation__gt=0).exists():
        raise Conflict(
            "consumer generation conflict - another request created the consumer",
            code=CONCURRENT_UPDATE,
        )


def allocations_write(*, consumers: dict[str, ConsumerWrite], check_generations: bool) -> None:
    """Replace what each consumer holds, all or nothing: unknown providers or classes are
    a 400, a stale consumer generation (when checked) or a provider without room a 409.

    Consumers the caller expects to be new (a null generation, from 1.28: the
    scheduler's claim for a build) are claimed in one statement when they are: the
    general path below, which words any conflict, only when one of them exists."""
    if check_generations and _claimed_new(consumers):
        return
    with transaction.atomic():
        providers = _known(consumers)
        if check_generations:
            _check_generations(consumers)
        try:
            allocations_set_many(
                consumers={
                    consumer_id: ConsumerAllocations(
                        write.project_id,
                        write.user_id,
                        {providers[p]: resources for p, resources in write.allocations.items()},
                    )
                    for consumer_id, write in consumers.items()
                }
            )
        except ClaimRejected as exc:
            raise Conflict(f"Unable to allocate inventory: {exc}") from exc
        except IntegrityError as exc:
            raise Conflict(
                "Inventory and/or allocations changed while attempting to allocate.",
                code=CONCURRENT_UPDATE,
            ) from exc
        if check_generations:
            _check_created(consumers)


def allocations_remove(*, consumer_id: str) -> None:
    """Free everything the consumer holds (404 when it holds nothing)."""
    with transaction.atomic():
        if not allocations_delete(consumer_id=consumer_id):
            raise NotFound(f"No allocations for consumer '{consumer_id}'")
