"""Placement writes: provider inventories, and consumers' allocations claimed atomically.

A claim is one transaction. For each resource class, in a fixed order (so
that concurrent claims never deadlock), a conditional UPDATE adds the amount
to the inventory's `used` only while `used + amount <= capacity`; when any
class does not fit, the whole transaction rolls back. Two schedulers can
therefore never both take the last slot, on PostgreSQL (row locks taken by
the UPDATE) as on SQLite (the IMMEDIATE transaction's write lock), and no
aggregate over the allocations table is needed to decide.

Every write of allocations goes through this module, which keeps
`Inventory.used` equal to the sum of the allocations against it.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cloud.scheduler.models import Allocation, Consumer, Inventory, ResourceProvider


@dataclass(frozen=True)
class InventorySpec:
    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int | None = None
    step_size: int = 1

    def values(self) -> dict:
        return {
            "total": self.total,
            "reserved": self.reserved,
            "allocation_ratio": self.allocation_ratio,
            "min_unit": self.min_unit,
            "max_unit": self.max_unit if self.max_unit is not None else self.total,
            "step_size": self.step_size,
            "capacity": Inventory.capacity_of(self.total, self.reserved, self.allocation_ratio),
        }


class ClaimRejected(Exception):
    """The provider cannot take the request; the message says which resource and why."""


class InventoryInUse(Exception):
    """An inventory with allocations against it cannot be removed."""


def _bump(provider_id: int) -> None:
    ResourceProvider.objects.filter(pk=provider_id).update(generation=F("generation") + 1)


def provider_sync(*, name: str, inventories: dict[str, InventorySpec]) -> ResourceProvider:
    """Create the provider if needed and make these inventories match, bumping the
    generation only when something changed (heartbeats repeat the same report)."""
    with transaction.atomic():
        provider, _ = ResourceProvider.objects.get_or_create(name=name)
        current = {inv.resource_class: inv for inv in provider.inventories.all()}
        changed = False
        for rc, spec in inventories.items():
            values = spec.values()
            inv = current.get(rc)
            if inv is None:
                Inventory.objects.create(provider=provider, resource_class=rc, **values)
                changed = True
            elif any(getattr(inv, k) != v for k, v in values.items()):
                Inventory.objects.filter(pk=inv.pk).update(**values)
                changed = True
        if changed:
            _bump(provider.pk)
        return provider


def inventories_replace(
    *, provider: ResourceProvider, inventories: dict[str, InventorySpec]
) -> None:
    """Set exactly these inventories on the provider (the placement API's PUT); classes
    left out are removed, which a class with allocations against it refuses."""
    with transaction.atomic():
        current = {inv.resource_class: inv for inv in provider.inventories.select_for_update()}
        for rc, inv in current.items():
            if rc not in inventories and inv.used:
                raise InventoryInUse(
                    f"Inventory for {rc} on resource provider {provider.uuid} in use."
                )
        Inventory.objects.filter(
            provider=provider, resource_class__in=set(current) - set(inventories)
        ).delete()
        for rc, spec in inventories.items():
            if rc in current:
                Inventory.objects.filter(pk=current[rc].pk).update(**spec.values())
            else:
                Inventory.objects.create(provider=provider, resource_class=rc, **spec.values())
        _bump(provider.pk)


def _why_not(provider_id: int, amounts: dict[str, int]) -> str:
    """Which class of a rejected claim did not fit on the provider, and why."""
    found = {
        inv.resource_class: inv
        for inv in Inventory.objects.filter(provider_id=provider_id).select_related("provider")
    }
    name = next(iter(found.values())).provider.name if found else str(provider_id)
    for rc, amount in sorted(amounts.items()):
        inv = found.get(rc)
        if inv is None:
            return f"{name} has no {rc} inventory"
        if amount < inv.min_unit or amount > inv.max_unit or amount % inv.step_size:
            return (
                f"{rc} request of {amount} is outside the unit limits of {name} "
                f"(min {inv.min_unit}, max {inv.max_unit}, step {inv.step_size})"
            )
        if amount > inv.free:
            return f"{name} has {inv.free} {rc} free, {amount} needed"
    return f"{name} changed while claiming"


def _take(cursor, provider_id: int, amounts: dict[str, int]) -> None:
    """Add every amount to its inventory's `used` in one conditional UPDATE: each row
    changes only while the amount fits under capacity and within the unit limits. Fewer
    rows changed than classes asked means it did not fit (the caller's transaction rolls
    the partial change back)."""
    classes = sorted(amounts)
    case = "CASE resource_class " + " ".join("WHEN %s THEN %s" for _ in classes) + " END"
    case_params = [x for rc in classes for x in (rc, amounts[rc])]
    cursor.execute(
        f"UPDATE {Inventory._meta.db_table} SET used = used + {case} "
        f"WHERE provider_id = %s AND resource_class IN ({', '.join('%s' for _ in classes)}) "
        f"AND used + {case} <= capacity AND {case} BETWEEN min_unit AND max_unit "
        f"AND {case} %% step_size = 0",
        [*case_params, provider_id, *classes, *case_params, *case_params, *case_params],
    )
    if cursor.rowcount != len(classes):
        raise ClaimRejected(_why_not(provider_id, amounts))


def _release(rows: list[Allocation]) -> None:
    for row in sorted(rows, key=lambda a: (a.provider_id, a.resource_class)):
        Inventory.objects.filter(
            provider_id=row.provider_id, resource_class=row.resource_class
        ).update(used=F("used") - row.used)
    Allocation.objects.filter(pk__in=[row.pk for row in rows]).delete()


def _consumer_touch(consumer_id: str, project_id: str, user_id: str) -> None:
    """Create the consumer, or move its generation on when it already exists."""
    now = timezone.now()
    table = Consumer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (uuid, project_id, user_id, generation, created_at, updated_at) "
            f"VALUES (%s, %s, %s, 0, %s, %s) ON CONFLICT (uuid) DO UPDATE "
            f"SET generation = {table}.generation + 1, updated_at = excluded.updated_at",
            [consumer_id, project_id, user_id, now, now],
        )


def allocations_set(
    *,
    consumer_id: str,
    project_id: str,
    user_id: str = "",
    allocations: dict[int, dict[str, int]],
) -> None:
    """Replace everything the consumer holds with `allocations` ({provider id: {class:
    amount}}), atomically: either all of it fits and is written, or nothing changes
    (ClaimRejected). Idempotent: the same allocations again change nothing.

    Providers are locked (their generation moved on) in id order before any
    inventory row is touched, so concurrent claims queue instead of deadlocking.
    """
    wanted = {
        provider_id: {rc: amount for rc, amount in classes.items() if amount}
        for provider_id, classes in allocations.items()
    }
    wanted = {provider_id: classes for provider_id, classes in wanted.items() if classes}
    with transaction.atomic():
        held = list(Allocation.objects.select_for_update().filter(consumer_id=consumer_id))
        mine: dict[int, dict[str, int]] = {}
        for a in held:
            mine.setdefault(a.provider_id, {})[a.resource_class] = a.used
        if mine == wanted:
            return
        for provider_id in sorted(set(wanted) | set(mine)):
            _bump(provider_id)
        _release(held)
        with connection.cursor() as cursor:
            for provider_id in sorted(wanted):
                _take(cursor, provider_id, wanted[provider_id])
        Allocation.objects.bulk_create(
            Allocation(
                provider_id=provider_id,
                consumer_id=consumer_id,
                project_id=project_id,
                resource_class=rc,
                used=amount,
            )
            for provider_id, classes in wanted.items()
            for rc, amount in classes.items()
        )
        if wanted:
            _consumer_touch(consumer_id, project_id, user_id)
        else:
            Consumer.objects.filter(uuid=consumer_id).delete()


def allocations_claim(
    *, consumer_id: str, project_id: str, provider_id: int, resources: dict[str, int]
) -> None:
    """Claim `resources` for the consumer on one provider (replacing what it held)."""
    allocations_set(
        consumer_id=consumer_id,
        project_id=project_id,
        allocations={provider_id: resources},
    )


def allocations_delete(*, consumer_id: str) -> int:
    """Free everything a consumer holds. Call inside the caller's transaction."""
    held = list(Allocation.objects.select_for_update().filter(consumer_id=consumer_id))
    _release(held)
    for provider_id in sorted({a.provider_id for a in held}):
        _bump(provider_id)
    Consumer.objects.filter(uuid=consumer_id).delete()
    return len(held)
