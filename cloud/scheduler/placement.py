"""Placement writes: provider inventories and atomic claims.

A claim checks "does it still fit" and writes the allocations in one
transaction holding the provider's row lock (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite the IMMEDIATE transaction holds the database write
lock), so two schedulers can never both take the last slot.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum

from cloud.scheduler.models import Allocation, Inventory, ResourceProvider


@dataclass(frozen=True)
class InventorySpec:
    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int | None = None
    step_size: int = 1


def provider_sync(*, name: str, inventories: dict[str, InventorySpec]) -> ResourceProvider:
    """Create the provider if needed and make its inventories match, bumping the
    generation only when something changed (heartbeats repeat the same report)."""
    with transaction.atomic():
        provider, _ = ResourceProvider.objects.get_or_create(name=name)
        current = {inv.resource_class: inv for inv in provider.inventories.all()}
        changed = False
        for rc, spec in inventories.items():
            values = {
                "total": spec.total,
                "reserved": spec.reserved,
                "allocation_ratio": spec.allocation_ratio,
                "min_unit": spec.min_unit,
                "max_unit": spec.max_unit if spec.max_unit is not None else spec.total,
                "step_size": spec.step_size,
            }
            inv = current.get(rc)
            if inv is None:
                Inventory.objects.create(provider=provider, resource_class=rc, **values)
                changed = True
            elif any(getattr(inv, k) != v for k, v in values.items()):
                Inventory.objects.filter(pk=inv.pk).update(**values)
                changed = True
        if changed:
            ResourceProvider.objects.filter(pk=provider.pk).update(generation=F("generation") + 1)
        return provider


class ClaimRejected(Exception):
    """The provider no longer has room; the message says which resource."""


def allocations_claim(
    *, consumer_id: str, project_id: str, provider_id: int, resources: dict[str, int]
) -> None:
    """Replace the consumer's allocations with `resources` on one provider, atomically.

    Idempotent: claiming the same resources again for the same consumer on
    the same provider changes nothing.
    """
    with transaction.atomic():
        provider = ResourceProvider.objects.select_for_update().get(pk=provider_id)
        mine = {
            a.resource_class: a.used
            for a in Allocation.objects.filter(consumer_id=consumer_id, provider=provider)
        }
        if mine == resources:
            return
        inventories = {inv.resource_class: inv for inv in provider.inventories.all()}
        used = dict(
            Allocation.objects.filter(provider=provider)
            .exclude(consumer_id=consumer_id)
            .values_list("resource_class")
            .annotate(total=Sum("used"))
        )
        for rc, amount in resources.items():
            inv = inventories.get(rc)
            if inv is None:
                raise ClaimRejected(f"{provider.name} has no {rc} inventory")
            if amount < inv.min_unit or amount > inv.max_unit or amount % inv.step_size:
                raise ClaimRejected(
                    f"{rc} request of {amount} is outside the unit limits of {provider.name}"
                )
            if used.get(rc, 0) + amount > inv.capacity:
                raise ClaimRejected(
                    f"{provider.name} has {inv.capacity - used.get(rc, 0)} {rc} free, "
                    f"{amount} needed"
                )
        Allocation.objects.filter(consumer_id=consumer_id).delete()
        Allocation.objects.bulk_create(
            Allocation(
                provider=provider,
                consumer_id=consumer_id,
                project_id=project_id,
                resource_class=rc,
                used=amount,
            )
            for rc, amount in resources.items()
            if amount
        )
        ResourceProvider.objects.filter(pk=provider.pk).update(generation=F("generation") + 1)


def allocations_delete(*, consumer_id: str) -> int:
    """Free everything a consumer holds. Call inside the caller's transaction."""
    deleted, _ = Allocation.objects.filter(consumer_id=consumer_id).delete()
    return deleted
