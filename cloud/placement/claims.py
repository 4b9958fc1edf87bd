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

from dataclasses import dataclass, replace
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from cloud.placement.models import (
    Allocation,
    Consumer,
    CustomResourceClass,
    Inventory,
    ResourceProvider,
)


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
    """The provider cannot take the request; the message says which resource and why,
    and `provider_id` which provider, when one is to blame."""

    def __init__(self, message: str, provider_id: int | None = None) -> None:
        super().__init__(message)
        self.provider_id = provider_id


class ConsumerExists(Exception):
    """The consumer already holds allocations (a redelivered or repeated claim)."""


class ProviderBusy(Exception):
    """Another claim holds the provider's lock, and the caller asked not to wait."""


class InventoryInUse(Exception):
    """An inventory with allocations against it cannot be removed."""


def _bump(provider_id: int) -> None:
    ResourceProvider.objects.filter(pk=provider_id).update(generation=F("generation") + 1)


def provider_sync(*, name: str, inventories: dict[str, InventorySpec]) -> ResourceProvider:
    """Create the provider if needed and make these inventories match what the host
    reports, bumping the generation only when something changed (heartbeats repeat the
    same report). The allocation ratio reported is the one a new inventory starts with:
    an existing one keeps its own, which an admin may have changed through the
    placement API (as Nova's initial_*_allocation_ratio)."""
    with transaction.atomic():
        provider, _ = ResourceProvider.objects.get_or_create(name=name)
        current = {inv.resource_class: inv for inv in provider.inventories.all()}
        changed = False
        for rc, spec in inventories.items():
            inv = current.get(rc)
            if inv is None:
                Inventory.objects.create(provider=provider, resource_class=rc, **spec.values())
                changed = True
            elif _differs(inv, spec):
                Inventory.objects.filter(pk=inv.pk).update(**_kept_ratio(inv, spec).values())
                changed = True
        if changed:
            _bump(provider.pk)
        return provider


def _kept_ratio(inv: Inventory, spec: InventorySpec) -> InventorySpec:
    return replace(spec, allocation_ratio=inv.allocation_ratio)


def _differs(inv: Inventory, spec: InventorySpec) -> bool:
    """Whether the host's report changes this inventory (its ratio stays the provider's)."""
    return any(getattr(inv, k) != v for k, v in _kept_ratio(inv, spec).values().items())


def provider_in_step(*, name: str, inventories: dict[str, InventorySpec]) -> bool:
    """Whether the provider `name` holds these inventories already, in one query and no
    transaction: a heartbeat that repeats the last report (nearly every one) writes
    nothing to placement."""
    current = {inv.resource_class: inv for inv in Inventory.objects.filter(provider__name=name)}
    return all(
        rc in current and not _differs(current[rc], spec) for rc, spec in inventories.items()
    )


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


def _why_not(
    provider_id: int, amounts: dict[str, int], each: dict[str, list[int]] | None = None
) -> str:
    """Which class of a rejected claim did not fit on the provider, and why. `each` holds
    the single allocations behind a total when several consumers claim at once: the unit
    limits apply to each of them, the free room to their sum."""
    found = {
        inv.resource_class: inv
        for inv in Inventory.objects.filter(provider_id=provider_id).select_related("provider")
    }
    name = next(iter(found.values())).provider.name if found else str(provider_id)
    for rc, amount in sorted(amounts.items()):
        inv = found.get(rc)
        if inv is None:
            return f"{name} has no {rc} inventory"
        for single in (each or {}).get(rc, [amount]):
            if single < inv.min_unit or single > inv.max_unit or single % inv.step_size:
                return (
                    f"{rc} request of {single} is outside the unit limits of {name} "
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
        raise ClaimRejected(_why_not(provider_id, amounts), provider_id)


def _release(rows: list[Allocation]) -> None:
    """Give back what these allocations use: one UPDATE per provider (whose row the
    caller has locked), then one DELETE."""
    by_provider: dict[int, dict[str, int]] = {}
    for row in rows:
        amounts = by_provider.setdefault(row.provider_id, {})
        amounts[row.resource_class] = amounts.get(row.resource_class, 0) + row.used
    for provider_id, amounts in sorted(by_provider.items()):
        freed = Case(
            *(When(resource_class=rc, then=Value(n)) for rc, n in sorted(amounts.items())),
            default=Value(0),
        )
        Inventory.objects.filter(provider_id=provider_id, resource_class__in=amounts).update(
            used=F("used") - freed
        )
    if rows:
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


@dataclass(frozen=True)
class ConsumerAllocations:
    """What one consumer is to hold after a write: {provider id: {class: amount}}."""

    project_id: str
    user_id: str
    allocations: dict[int, dict[str, int]]


def allocations_set_many(*, consumers: dict[str, ConsumerAllocations]) -> None:
    """Replace what each consumer holds, atomically for all of them (the placement API's
    POST /allocations): everything they held is released before anything is taken, so
    resources can move from one consumer to another on a full provider. A consumer whose
    allocations do not change is left alone, its generation too.

    Providers are locked (their generation moved on) in id order before any
    inventory row is touched, so concurrent claims queue instead of deadlocking.
    """
    wanted = {
        consumer_id: {
            provider_id: classes
            for provider_id, classes in (
                (provider_id, {rc: amount for rc, amount in classes.items() if amount})
                for provider_id, classes in consumer.allocations.items()
            )
            if classes
        }
        for consumer_id, consumer in consumers.items()
    }
    with transaction.atomic():
        held = list(Allocation.objects.select_for_update().filter(consumer_id__in=list(wanted)))
        mine: dict[str, dict[int, dict[str, int]]] = {consumer_id: {} for consumer_id in wanted}
        for a in held:
            mine[a.consumer_id].setdefault(a.provider_id, {})[a.resource_class] = a.used
        changed = sorted(
            consumer_id for consumer_id in wanted if mine[consumer_id] != wanted[consumer_id]
        )
        if not changed:
            return
        for provider_id in sorted({p for c in changed for p in (*mine[c], *wanted[c])}):
            _bump(provider_id)
        _release([a for a in held if a.consumer_id in changed])
        with connection.cursor() as cursor:
            for provider_id, consumer_id in sorted((p, c) for c in changed for p in wanted[c]):
                _take(cursor, provider_id, wanted[consumer_id][provider_id])
        Allocation.objects.bulk_create(
            Allocation(
                provider_id=provider_id,
                consumer_id=consumer_id,
                project_id=consumers[consumer_id].project_id,
                resource_class=rc,
                used=amount,
            )
            for consumer_id in changed
            for provider_id, classes in wanted[consumer_id].items()
            for rc, amount in classes.items()
        )
        for consumer_id in changed:
            if wanted[consumer_id]:
                consumer = consumers[consumer_id]
                _consumer_touch(consumer_id, consumer.project_id, consumer.user_id)
            else:
                Consumer.objects.filter(uuid=consumer_id).delete()


def allocations_claim_new_many(
    claims: list[tuple[str, str, int, dict[str, int]]],
    *,
    wait: bool = True,
    users: dict[str, str] | None = None,
) -> None:
    """Claims of consumers holding nothing yet (new builds), each (consumer id, project
    id, provider id, resources; a consumer on several providers has a claim on each):
    all of them fit and are written, or nothing changes (ClaimRejected; ConsumerExists
    when one of them already is a consumer). `users` names the consumers' users (none
    for the scheduler's claims). On PostgreSQL this is one statement in one short
    transaction.

    With `wait=False`, a provider another claim has locked raises ProviderBusy at
    once (the scheduler then tries its next host) instead of queueing behind it.
    """
    users = users or {}
    fresh = [(c, p, pid, {rc: a for rc, a in r.items() if a}) for c, p, pid, r in claims]
    if connection.vendor == "postgresql" and all(amounts for *_, amounts in fresh):
        _fresh_claims(fresh, wait, users)
        return
    wanted: dict[str, ConsumerAllocations] = {}
    for consumer_id, project_id, provider_id, resources in fresh:
        held = wanted.setdefault(
            consumer_id, ConsumerAllocations(project_id, users.get(consumer_id, ""), {})
        )
        held.allocations[provider_id] = resources
    with transaction.atomic():
        if Consumer.objects.filter(uuid__in=list(wanted)).exists():
            raise ConsumerExists(", ".join(sorted(wanted)))
        allocations_set_many(consumers=wanted)


# One text for any number of claims (the rows travel as arrays), so psycopg prepares it
# once per connection and PostgreSQL plans it once.
_CLAIM_FRESH = """
WITH want AS (
    SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[],
                         %s::varchar[], %s::bigint[])
        AS want (consumer, project_id, user_id, provider_id, resource_class, amount)
),
need AS (
    SELECT provider_id, resource_class, sum(amount) AS amount FROM want GROUP BY 1, 2
),
consumers AS (
    INSERT INTO {consumer} (uuid, project_id, user_id, generation, created_at, updated_at)
    SELECT DISTINCT consumer, project_id, user_id, 0, %s::timestamptz, %s::timestamptz
    FROM want
    ON CONFLICT (uuid) DO NOTHING RETURNING uuid
),
providers AS (
    UPDATE {provider} SET generation = generation + 1
    WHERE id IN (
        SELECT id FROM {provider}
        WHERE id IN (SELECT provider_id FROM want)
            AND (SELECT count(*) FROM consumers) = %s
        ORDER BY id FOR UPDATE {wait}
    )
    RETURNING id
),
took AS (
    UPDATE {inventory} i SET used = i.used + need.amount
    FROM need, providers
    WHERE i.provider_id = providers.id AND need.provider_id = providers.id
        AND i.resource_class = need.resource_class
        AND i.used + need.amount <= i.capacity
        AND NOT EXISTS (
            SELECT 1 FROM want
            WHERE want.provider_id = i.provider_id AND want.resource_class = i.resource_class
                AND NOT (want.amount BETWEEN i.min_unit AND i.max_unit
                         AND want.amount %% i.step_size = 0)
        )
    RETURNING i.provider_id, i.resource_class
),
allocated AS (
    INSERT INTO {allocation} (provider_id, consumer_id, project_id, resource_class, used,
                              created_at)
    SELECT provider_id, consumer, project_id, resource_class, amount, %s::timestamptz
    FROM want WHERE (SELECT count(*) FROM took) = (SELECT count(*) FROM need)
    RETURNING 1
)
SELECT (SELECT count(*) FROM consumers), (SELECT count(*) FROM providers),
       ARRAY(SELECT provider_id || ' ' || resource_class FROM took),
       (SELECT count(*) FROM allocated)
"""


@lru_cache(maxsize=8)
def _statement(text: str, **extra: str) -> str:
    """One of this module's statements with the placement tables' names filled in."""
    return text.format(
        consumer=Consumer._meta.db_table,
        provider=ResourceProvider._meta.db_table,
        inventory=Inventory._meta.db_table,
        allocation=Allocation._meta.db_table,
        **extra,
    )


def _fresh_claims(
    claims: list[tuple[str, str, int, dict[str, int]]], wait: bool, users: dict[str, str]
) -> None:
    """Claims of consumers holding nothing yet, each (consumer id, project id, provider
    id, amounts), as one statement (PostgreSQL) in its own transaction. It records the
    consumers, takes the providers' locks in id order (their generations move on, as for
    every write of their inventories), adds the amounts to `used` where they fit and
    writes the allocations; anything short rolls it all back."""
    rows = [
        (consumer_id, project_id, users.get(consumer_id, ""), provider_id, rc, amount)
        for consumer_id, project_id, provider_id, amounts in claims
        for rc, amount in sorted(amounts.items())
    ]
    consumers = {row[0] for row in rows}
    providers = {row[3] for row in rows}
    need: dict[tuple[int, str], int] = {}
    each: dict[int, dict[str, list[int]]] = {}
    for _, _, _, provider_id, rc, amount in rows:
        need[provider_id, rc] = need.get((provider_id, rc), 0) + amount
        each.setdefault(provider_id, {}).setdefault(rc, []).append(amount)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        columns = [list(column) for column in zip(*rows, strict=True)]
        cursor.execute(
            _statement(_CLAIM_FRESH, wait="" if wait else "SKIP LOCKED"),
            [*columns, now, now, len(consumers), now],
        )
        fresh, locked, taken, allocated = cursor.fetchone()
        if allocated != len(rows):
            transaction.set_rollback(True)
    if allocated == len(rows):
        return
    if fresh < len(consumers):
        raise ConsumerExists(", ".join(sorted(consumers)))
    if locked < len(providers) and not wait:
        raise ProviderBusy(f"resource providers {sorted(providers)} are being claimed")
    if locked < len(providers):
        raise ClaimRejected(f"a resource provider of {sorted(providers)} does not exist")
    took = {(int(pk), rc) for pk, rc in (item.split(" ", 1) for item in taken)}
    short: dict[int, dict[str, int]] = {}
    for (provider_id, rc), amount in need.items():
        if (provider_id, rc) not in took:
            short.setdefault(provider_id, {})[rc] = amount
    # Worded after the rollback, from the rows as other claims left them.
    provider_id, missing = min(short.items())
    raise ClaimRejected(_why_not(provider_id, missing, each[provider_id]), provider_id)


@dataclass(frozen=True)
class Fitted:
    """What a claim of what still fits did: the consumers now holding their claims, and
    those that held allocations already (a redelivered request); the rest found no room
    left on their provider and hold nothing."""

    claimed: set[str]
    existing: set[str]


def allocations_claim_new_fitting(claims: list[tuple[str, str, int, dict[str, int]]]) -> Fitted:
    """Claims of consumers holding nothing yet, each (consumer id, project id, provider
    id, resources) on one provider: every provider that still has room for all of its
    claims takes them, the others take none, in one transaction (the caller's, if any).
    A scheduler pass claims this way and plans again only what was refused, instead of
    losing the whole pass to the one provider another scheduler filled meanwhile. (On
    SQLite, whose one write lock queues every claim anyway, it goes claim by claim.)"""
    fresh = [(c, p, pid, {rc: a for rc, a in r.items() if a}) for c, p, pid, r in claims]
    if connection.vendor == "postgresql" and all(amounts for *_, amounts in fresh):
        return _fitting_claims(fresh)
    claimed, existing = set(), set()
    for claim in fresh:
        try:
            allocations_claim_new_many([claim])
        except ConsumerExists:
            existing.add(claim[0])
        except ClaimRejected:
            continue
        else:
            claimed.add(claim[0])
    return Fitted(claimed=claimed, existing=existing)


_CLAIM_FITTING = """
WITH want AS (
    SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[], %s::varchar[], %s::bigint[])
        AS want (consumer, project_id, provider_id, resource_class, amount)
),
existing AS (
    SELECT uuid FROM {consumer} WHERE uuid IN (SELECT consumer FROM want)
),
need AS (
    SELECT provider_id, resource_class, sum(amount) AS amount FROM want
    WHERE consumer NOT IN (SELECT uuid FROM existing) GROUP BY 1, 2
),
fits AS (
    SELECT need.provider_id FROM need
    LEFT JOIN {inventory} i
        ON i.provider_id = need.provider_id AND i.resource_class = need.resource_class
    GROUP BY need.provider_id
    HAVING bool_and(i.id IS NOT NULL AND i.used + need.amount <= i.capacity)
    EXCEPT
    SELECT want.provider_id FROM want JOIN {inventory} i
        ON i.provider_id = want.provider_id AND i.resource_class = want.resource_class
    WHERE NOT (want.amount BETWEEN i.min_unit AND i.max_unit AND want.amount %% i.step_size = 0)
),
consumers AS (
    INSERT INTO {consumer} (uuid, project_id, user_id, generation, created_at, updated_at)
    SELECT DISTINCT consumer, project_id, '', 0, %s::timestamptz, %s::timestamptz FROM want
    WHERE consumer NOT IN (SELECT uuid FROM existing)
        AND provider_id IN (SELECT provider_id FROM fits)
    ON CONFLICT (uuid) DO NOTHING RETURNING uuid
),
chosen AS (
    SELECT * FROM want WHERE consumer IN (SELECT uuid FROM consumers)
),
taking AS (
    SELECT provider_id, resource_class, sum(amount) AS amount FROM chosen GROUP BY 1, 2
),
providers AS (
    UPDATE {provider} SET generation = generation + 1
    WHERE id IN (SELECT provider_id FROM taking) RETURNING id
),
took AS (
    UPDATE {inventory} i SET used = i.used + taking.amount
    FROM taking
    WHERE i.provider_id = taking.provider_id AND i.resource_class = taking.resource_class
        AND i.used + taking.amount <= i.capacity
    RETURNING 1
),
allocated AS (
    INSERT INTO {allocation} (provider_id, consumer_id, project_id, resource_class, used,
                              created_at)
    SELECT provider_id, consumer, project_id, resource_class, amount, %s::timestamptz
    FROM chosen RETURNING 1
)
SELECT ARRAY(SELECT uuid FROM consumers), ARRAY(SELECT uuid FROM existing),
       (SELECT count(*) FROM taking) = (SELECT count(*) FROM took)
       AND (SELECT count(*) FROM chosen) = (SELECT count(*) FROM allocated)
       AND (SELECT count(DISTINCT provider_id) FROM taking) = (SELECT count(*) FROM providers)
"""


def _fitting_claims(claims: list[tuple[str, str, int, dict[str, int]]]) -> Fitted:
    """PostgreSQL: the providers' locks first, in id order (as every claim takes them),
    then one statement that, on rows read after the locks were granted, keeps the
    providers with room for all of their claims and writes those claims. A provider
    whose inventory changed under it all the same (an inventory write takes no provider
    lock before its rows) rolls everything back: ClaimRejected, as an all-or-nothing
    claim would answer."""
    rows = [
        (consumer_id, project_id, provider_id, rc, amount)
        for consumer_id, project_id, provider_id, amounts in claims
        for rc, amount in sorted(amounts.items())
    ]
    providers = sorted({row[2] for row in rows})
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {ResourceProvider._meta.db_table} WHERE id = ANY(%s::bigint[]) "
            "ORDER BY id FOR UPDATE",
            [providers],
        )
        columns = [list(column) for column in zip(*rows, strict=True)]
        cursor.execute(_statement(_CLAIM_FITTING), [*columns, now, now, now])
        claimed, existing, whole = cursor.fetchone()
        if not whole:
            transaction.set_rollback(True)
    if not whole:
        raise ClaimRejected(f"resource providers {providers} changed while claiming")
    return Fitted(claimed=set(claimed), existing=set(existing))


# Providers locked first, in id order, as claims lock them (the DELETE waits for the
# lock: its condition reads `locked`), so a delete and a claim never deadlock; then the
# allocations go and their sums come off the inventories' `used`.
_DELETE_CONSUMER = """
WITH locked AS (
    UPDATE {provider} SET generation = generation + 1
    WHERE id IN (
        SELECT id FROM {provider}
        WHERE id IN (SELECT provider_id FROM {allocation} WHERE consumer_id = %s)
        ORDER BY id FOR UPDATE
    )
    RETURNING id
),
gone AS (
    DELETE FROM {allocation}
    WHERE consumer_id = %s AND (SELECT count(*) FROM locked) >= 0
    RETURNING provider_id, resource_class, used
),
freed AS (
    UPDATE {inventory} i SET used = i.used - g.amount
    FROM (SELECT provider_id, resource_class, sum(used) AS amount FROM gone GROUP BY 1, 2) g
    WHERE i.provider_id = g.provider_id AND i.resource_class = g.resource_class
    RETURNING 1
),
consumer AS (
    DELETE FROM {consumer} WHERE uuid = %s RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM freed), (SELECT count(*) FROM consumer)
"""


def allocations_delete(*, consumer_id: str) -> int:
    """Free everything a consumer holds (how many allocations it had). Call inside the
    caller's transaction. On PostgreSQL this is one statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_statement(_DELETE_CONSUMER), [consumer_id, consumer_id, consumer_id])
            return cursor.fetchone()[0]
    held = list(Allocation.objects.select_for_update().filter(consumer_id=consumer_id))
    # Providers first, as claims lock them, so a delete and a claim never deadlock.
    for provider_id in sorted({a.provider_id for a in held}):
        _bump(provider_id)
    _release(held)
    Consumer.objects.filter(uuid=consumer_id).delete()
    return len(held)


def resource_class_rename(*, old: str, new: str) -> None:
    """Rename a custom resource class, and with it every inventory and allocation of it
    (the placement API before 1.7)."""
    with transaction.atomic():
        CustomResourceClass.objects.filter(name=old).update(name=new)
        Inventory.objects.filter(resource_class=old).update(resource_class=new)
        Allocation.objects.filter(resource_class=old).update(resource_class=new)


def allocations_move(*, source: str, target: str, project_id: str, user_id: str = "") -> bool:
    """Give the target consumer everything the source consumer holds, in place of what
    the target held, atomically (a resize's source allocation moving to its migration,
    and back to the instance on a revert). False, with nothing changed, when the source
    holds nothing (the move was made already)."""
    with transaction.atomic():
        held: dict[int, dict[str, int]] = {}
        for a in Allocation.objects.select_for_update().filter(consumer_id=source):
            held.setdefault(a.provider_id, {})[a.resource_class] = a.used
        if not held:
            return False
        allocations_set_many(
            consumers={
                target: ConsumerAllocations(project_id, user_id, held),
                source: ConsumerAllocations(project_id, user_id, {}),
            }
        )
        return True
