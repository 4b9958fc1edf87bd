"""Scheduler reads: candidate hosts with room, as filters and weighers see them; server
groups as their owners see them, and their members.

Candidates are found in SQL, by an index scan on free capacity (placement's
inventories keep capacity and usage in columns, see cloud.placement.models),
so the scheduler never loads every host into Python. That scan reads
placement's tables itself, in one statement with the compute nodes the filters
narrowed (which placement knows nothing of); every other placement read goes
through cloud.placement.selectors.
"""

import json

from django.db import connection
from django.db.models import QuerySet

from cloud.api.parsing import uuid_or_none
from cloud.hosts.models import ComputeNode
from cloud.identity.context import RequestContext
from cloud.placement.models import Inventory, ResourceClass, ResourceProvider
from cloud.placement.selectors import provider_capacities
from cloud.scheduler.models import ServerGroup, ServerGroupMember
from cloud.scheduler.request import HostState, canonical_uuid

_CANDIDATES = """
WITH top AS (
    {fence}SELECT provider_id FROM {inventory} AS primary_class
    WHERE resource_class = %s AND capacity - used >= %s {among} {others}
    ORDER BY capacity - used {direction}, provider_id {window}
)
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*)
FROM top
UNION ALL
SELECT top.provider_id, p.name, i.resource_class, i.capacity, i.used, i.min_unit, i.max_unit,
       i.step_size, n.availability_zone, n.hypervisor_type, n.cpu_info, n.failed_builds, NULL
FROM top
JOIN {provider} p ON p.id = top.provider_id
JOIN {node} n ON n.host = p.name
JOIN {inventory} i ON i.provider_id = top.provider_id
WHERE n.id IN ({nodes})
"""


def candidates(
    *,
    resources: dict[str, int],
    nodes: tuple[str, tuple] | None,
    offset: int,
    limit: int,
    most_free_first: bool = True,
    hosts: set[str] | None = None,
    skip_claimed: bool = False,
) -> tuple[list[HostState], bool]:
    """Hosts among `nodes` (the SQL and parameters of a compute-node query the filters
    narrowed, None for no host) with room for `resources`, most free memory first; and
    whether the scan is exhausted.

    One statement, with the same text for every request of a shape (so psycopg
    prepares it and PostgreSQL plans it once per connection): an index scan
    backwards on the memory inventories' free capacity picks `limit` providers
    with room for the memory (only among `hosts` when a filter named them); their
    inventories and narrowed compute nodes come joined to them. Room for the other
    classes and the unit limits are judged here, on that bounded set.

    With `skip_claimed` (inside a transaction, on PostgreSQL), the scan passes over
    the hosts another scheduler's pass is planning on right now, and marks those it
    picks as its own until the transaction ends: a transaction-scoped advisory lock
    per provider (SCHEDULING_LOCKS), tried in the scan's order after every other
    condition. Concurrent passes then take the next hosts in the same order instead
    of planning on the same ones and losing the claim races. The marks lock no row:
    nothing else waits for them, and the claim still checks the room it takes.
    """
    wanted = {rc: amount for rc, amount in resources.items() if amount}
    primary = ResourceClass.MEMORY_MB if ResourceClass.MEMORY_MB in wanted else None
    primary = primary or next(iter(wanted), ResourceClass.MEMORY_MB)
    if nodes is None:
        return [], True
    node_sql, node_params = nodes
    among, among_params = "", []
    if hosts is not None:
        names = sorted(hosts)
        among = (
            f"AND provider_id IN (SELECT id FROM {ResourceProvider._meta.db_table} "
            f"WHERE name IN ({', '.join(['%s'] * len(names))}))"
        )
        among_params = names
    # Room for every other class is part of the scan too (an index probe per provider
    # scanned), so hosts short of VCPU or disk never fill the batch in place of hosts
    # that fit.
    other_classes = sorted(rc for rc in wanted if rc != primary)
    others = "".join(
        f"AND EXISTS (SELECT 1 FROM {Inventory._meta.db_table} AS other "
        "WHERE other.provider_id = primary_class.provider_id AND other.resource_class = %s "
        "AND other.capacity - other.used >= %s) "
        for _ in other_classes
    )
    others_params = [x for rc in other_classes for x in (rc, wanted[rc])]
    sql = _CANDIDATES.format(
        inventory=Inventory._meta.db_table,
        others=others,
        provider=ResourceProvider._meta.db_table,
        node=ComputeNode._meta.db_table,
        among=among,
        direction="DESC" if most_free_first else "ASC",
        nodes=node_sql,
        **_window(limit, offset, skip_claimed and connection.vendor == "postgresql"),
    )
    params = [primary, wanted.get(primary, 0), *among_params, *others_params, *node_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    scanned = rows[0][-1]
    order: list[int] = []
    names: dict[int, str] = {}
    nodes_found: dict[int, tuple] = {}
    fits: dict[int, set[str]] = {}
    free: dict[int, dict[str, int]] = {}
    capacity: dict[int, dict[str, int]] = {}
    limits: dict[int, dict[str, tuple[int, int, int]]] = {}
    for pk, name, rc, cap, used, min_unit, max_unit, step, *node, _ in rows[1:]:
        if pk not in names:
            order.append(pk)
            names[pk] = name
            nodes_found[pk] = (name, *node)
            fits[pk], free[pk], capacity[pk], limits[pk] = set(), {}, {}, {}
        free[pk][rc] = cap - used
        capacity[pk][rc] = cap
        limits[pk][rc] = (min_unit, max_unit, step)
        amount = wanted.get(rc)
        if amount and amount <= cap - used and min_unit <= amount <= max_unit and not amount % step:
            fits[pk].add(rc)
    sign = -1 if most_free_first else 1
    states = [
        _state(pk, free[pk], capacity[pk], nodes_found[pk], limits[pk])
        for pk in sorted(order, key=lambda pk: (sign * free[pk].get(primary, 0), pk))
        if fits[pk] >= set(wanted)
    ]
    return states, scanned < limit


SCHEDULING_LOCKS = 0x5C4ED
"""The advisory-lock namespace of the providers a scheduler pass is planning on."""


def _window(limit: int, offset: int, skip_claimed: bool) -> dict[str, str]:
    """The candidate scan's page (literal, so the prepared statement's generic plan knows
    how few rows it wants). With `skip_claimed`, the hosts other passes marked are passed
    over and the rest marked, one by one in the scan's order: the ordered scan is fenced
    (OFFSET 0 in a subquery), so the mark is tried after every other condition."""
    if not skip_claimed:
        return {"fence": "", "window": f"LIMIT {limit:d} OFFSET {offset:d}"}
    mark = f"pg_try_advisory_xact_lock(({SCHEDULING_LOCKS:d}::bigint << 32) + provider_id)"
    return {
        "fence": "SELECT provider_id FROM (",
        "window": f"OFFSET {offset:d}) AS ranked WHERE {mark} LIMIT {limit:d}",
    }


def _state(
    pk: int, free: dict, capacity: dict, node: tuple, limits: dict | None = None
) -> HostState:
    host, zone, hypervisor_type, cpu_info, failed_builds = node
    if isinstance(cpu_info, str):  # a raw query on SQLite returns the JSON text
        cpu_info = json.loads(cpu_info)
    return HostState(
        provider_id=pk,
        name=host,
        free=free,
        capacity=capacity,
        zone=zone,
        hypervisor_type=hypervisor_type,
        architecture=(cpu_info or {}).get("arch"),
        failed_builds=failed_builds,
        limits=limits or {},
    )


def host_states(rows: list[tuple[int, str]]) -> list[HostState]:
    """HostStates of (provider id, host name) pairs, in the order given."""
    free: dict[int, dict[str, int]] = {pk: {} for pk, _ in rows}
    capacity: dict[int, dict[str, int]] = {pk: {} for pk, _ in rows}
    for pk, classes in provider_capacities(provider_ids=free).items():
        for rc, (cap, used) in classes.items():
            free[pk][rc] = cap - used
            capacity[pk][rc] = cap
    nodes = {
        row[0]: row
        for row in ComputeNode.objects.filter(host__in=[name for _, name in rows]).values_list(
            "host", "availability_zone", "hypervisor_type", "cpu_info", "failed_builds"
        )
    }
    return [_state(pk, free[pk], capacity[pk], nodes[name]) for pk, name in rows if name in nodes]


# --- Server groups ----------------------------------------------------------------


def count_server_groups(project_id: str, user_id: str | None) -> int:
    """Quota usage of server_groups (a counter for cloud.identity.quotas)."""
    groups = ServerGroup.objects.filter(project_id=project_id)
    return (groups.filter(user_id=user_id) if user_id else groups).count()


def server_group_visible(*, context: RequestContext) -> QuerySet:
    """The groups a caller may name: its project's, or any for an admin (as in Nova)."""
    groups = ServerGroup.objects.order_by("id")
    return groups if context.is_admin else groups.filter(project_id=context.project_id)


def server_group_find(*, group_id: str, context: RequestContext) -> ServerGroup | None:
    """A visible group by UUID; None for a malformed, unknown or foreign id alike."""
    uuid = uuid_or_none(group_id)
    if uuid is None:
        return None
    return server_group_visible(context=context).filter(uuid=uuid).first()


def server_group_members(*, group_ids: list[int]) -> dict[int, list[str]]:
    """UUIDs of each group's members, in one query (an instance leaves its group when it
    is deleted)."""
    found: dict[int, list[str]] = {pk: [] for pk in group_ids}
    rows = ServerGroupMember.objects.filter(group_id__in=group_ids).order_by("id")
    for group_id, uuid in rows.values_list("group_id", "instance_uuid"):
        found[group_id].append(str(uuid))
    return found


def server_group_placed_members(*, group_uuid: str) -> dict[str, str]:
    """The group's members that have a host: instance uuid -> host."""
    uuid = canonical_uuid(group_uuid)
    if uuid is None:
        return {}
    rows = ServerGroupMember.objects.filter(group__uuid=uuid, host__isnull=False)
    return {str(member): host for member, host in rows.values_list("instance_uuid", "host")}


def server_groups_of(*, instance_uuid: str) -> list[str]:
    """UUIDs of the groups an instance belongs to (at most one)."""
    rows = ServerGroupMember.objects.filter(instance_uuid=instance_uuid)
    return [str(uuid) for uuid in rows.values_list("group__uuid", flat=True)]
