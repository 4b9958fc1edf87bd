"""The scheduler: pick a host for an instance and claim its resources there.

1. The enabled filters narrow a compute-node query in SQL (up and enabled,
   zone, aggregates, server group, hints); the candidate query adds "has room"
   and returns a bounded batch, most free memory first.
2. Python filters judge that batch; weighers rank what passed.
3. The best host is claimed in one transaction that, for a server group,
   first locks the group's row and re-checks its policy against the members
   placed so far, then writes the allocations and the instance's membership.
   A claim that lost a race moves on to the next host, then the next batch.
4. The next hosts in rank travel with the decision as alternates for
   reschedules. When nothing fits, the fault counts, filter by filter, how
   many hosts each one removed.
"""

import logging
import random
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import transaction
from django.db.models import QuerySet

from cloud.hosts.models import ComputeNode
from cloud.scheduler import filters, weighers
from cloud.scheduler.filters.groups import hosts_full
from cloud.scheduler.filters.resources import ResourcesFilter, describe_amount, wanted
from cloud.scheduler.models import ResourceProvider, ServerGroup, ServerGroupMember
from cloud.scheduler.models import ServerGroupPolicy as Policy
from cloud.scheduler.placement import (
    ClaimRejected,
    ConsumerExists,
    ProviderBusy,
    allocations_claim_many,
    allocations_claim_new,
    allocations_delete,
)
from cloud.scheduler.request import HostState, Scheduling, SchedulingRequest, member_hosts
from cloud.scheduler.selectors import (
    candidates,
    consumer_provider,
    consumers_holding,
    host_states,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    host: str | None
    alternates: list[str]
    error: str | None = None


@lru_cache(maxsize=4)
def _filters(names: tuple[str, ...]) -> list[filters.HostFilter]:
    return filters.load(list(names))


@lru_cache(maxsize=4)
def _weighers(names: tuple[str, ...]) -> list[weighers.HostWeigher]:
    return weighers.load(list(names))


def _active_filters(ctx: Scheduling) -> list[filters.HostFilter]:
    return [f for f in _filters(tuple(settings.SCHEDULER_FILTERS)) if f.applies(ctx)]


def _narrowing(active: list[filters.HostFilter]) -> list[filters.HostFilter]:
    # The candidate query itself is the resources filter (an index scan on free room).
    return [f for f in active if not isinstance(f, ResourcesFilter)]


def _narrowed(ctx: Scheduling, active: list[filters.HostFilter]) -> QuerySet:
    nodes = ComputeNode.objects.exclude(host__in=ctx.request.ignore_hosts)
    for host_filter in _narrowing(active):
        nodes = host_filter.narrow(nodes, ctx)
    return nodes


_COMPILED: dict[tuple, tuple[str, tuple] | None] = {}


def _narrowed_sql(ctx: Scheduling, active: list[filters.HostFilter]) -> tuple[str, tuple] | None:
    """The narrowed compute-node query as SQL and parameters (None: no host can pass).
    When every narrowing filter depends on the request alone, it is compiled once per
    process and request shape: most requests then build no query at all."""
    narrowing = _narrowing(active)
    keys = [f.narrow_key(ctx) for f in narrowing]
    key = None
    if None not in keys:
        key = (tuple(f.name for f in narrowing), tuple(keys), tuple(ctx.request.ignore_hosts))
        if key in _COMPILED:
            return _COMPILED[key]
    try:
        compiled = _narrowed(ctx, active).order_by().values("id").query.sql_with_params()
    except EmptyResultSet:  # a filter allows no host at all (e.g. `host IN ()`)
        compiled = None
    if key is not None:
        if len(_COMPILED) >= 256:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled


def _named_hosts(ctx: Scheduling, active: list[filters.HostFilter]) -> set[str] | None:
    """The only hosts some filter allows (a forced host, an affinity group's host), if any:
    the candidate scan then looks at those alone instead of paging through the rest."""
    named = None
    for host_filter in active:
        hosts = host_filter.named_hosts(ctx)
        if hosts is not None:
            named = hosts if named is None else named & hosts
    return named


def _ranked(hosts: list[HostState], ctx: Scheduling) -> list[HostState]:
    weights = weighers.weigh(hosts, _weighers(tuple(settings.SCHEDULER_WEIGHERS)), ctx)
    order = sorted(range(len(hosts)), key=lambda i: -weights[i])
    ranked = [hosts[i] for i in order]
    subset = max(1, min(settings.SCHEDULER_HOST_SUBSET_SIZE, len(ranked)))
    if subset > 1:
        # Nova's host_subset_size: concurrent schedulers spread instead of queueing.
        first = random.randrange(subset)
        ranked.insert(0, ranked.pop(first))
    return ranked


def _claim(ctx: Scheduling, host: HostState, *, wait: bool = True) -> None:
    """Claim on one host for an instance holding nothing yet (ConsumerExists otherwise);
    for a server group, under the group's lock, re-checking its policy and recording
    the membership in the same transaction."""
    request = ctx.request
    claim = {
        "consumer_id": request.instance_uuid,
        "project_id": request.project_id,
        "provider_id": host.provider_id,
        "resources": request.resources,
    }
    if ctx.group is None:
        allocations_claim_new(**claim, wait=wait)
        return
    with transaction.atomic():
        group = ServerGroup.objects.select_for_update().get(pk=ctx.group.pk)
        placed = member_hosts(group, exclude=request.instance_uuid)
        if group.policy == Policy.ANTI_AFFINITY and host.name in hosts_full(placed, group.rules):
            raise ClaimRejected(f"{host.name} already holds members of group {group.uuid}")
        if group.policy == Policy.AFFINITY and placed and host.name not in placed:
            raise ClaimRejected(f"group {group.uuid} is on {', '.join(sorted(placed))}")
        allocations_claim_new(**claim)
        ServerGroupMember.objects.bulk_create(
            [ServerGroupMember(instance_uuid=request.instance_uuid, group=group, host=host.name)],
            update_conflicts=True,
            unique_fields=["instance_uuid"],
            update_fields=["group", "host"],
        )


def _claim_first(ctx: Scheduling, ranked: list[HostState]) -> int | None:
    """Claim on the best host that takes it; the index of that host in `ranked`.

    Hosts whose provider another scheduler is claiming on right now are passed over
    at first (concurrent schedulers spread over the best hosts instead of queueing on
    the one at the top), then waited for if no other host took the claim.
    """
    busy = []
    for index, host in enumerate(ranked):
        try:
            _claim(ctx, host, wait=False)
            return index
        except ProviderBusy:
            busy.append(index)
        except ClaimRejected as exc:
            log.info("claim for %s on %s lost: %s", ctx.request.instance_uuid, host.name, exc)
    for index in busy:
        try:
            _claim(ctx, ranked[index])
            return index
        except ClaimRejected as exc:
            log.info(
                "claim for %s on %s lost: %s", ctx.request.instance_uuid, ranked[index].name, exc
            )
    return None


def select_destination(request: SchedulingRequest) -> Selection:
    ctx = Scheduling(request)
    active = _active_filters(ctx)
    python_filters = [f for f in active if f.judges_hosts]
    nodes_sql = _narrowed_sql(ctx, active)
    batch_size = settings.SCHEDULER_MAX_CANDIDATES
    offset = 0
    hosts = _named_hosts(ctx, active)
    exhausted = False
    while not exhausted:
        batch, exhausted = candidates(
            resources=request.resources,
            nodes=nodes_sql,
            offset=offset,
            limit=batch_size,
            most_free_first=settings.RAM_WEIGHT_MULTIPLIER >= 0,
            hosts=hosts,
        )
        offset += batch_size
        passing = [h for h in batch if all(f.host_passes(h, ctx) for f in python_filters)]
        ranked = _ranked(passing, ctx) if passing else []
        try:
            index = _claim_first(ctx, ranked)
        except ConsumerExists:
            return _held(request)
        if index is not None:
            alternates = [h.name for h in ranked[index + 1 :]][: settings.SCHEDULER_NUM_ALTERNATES]
            return Selection(host=ranked[index].name, alternates=alternates)
    reason = no_valid_host_reason(request)
    log.warning("%s: %s", request.instance_uuid, reason)
    return Selection(host=None, alternates=[], error=reason)


def _held(request: SchedulingRequest) -> Selection:
    """A redelivered request finds its own claim: answer with it rather than claiming a
    second host (the conductor frees claims before rescheduling). A claim left on a host
    the request must avoid is freed, and the request decided afresh."""
    held = consumer_provider(consumer_id=request.instance_uuid)
    if held is not None and held not in request.ignore_hosts:
        return Selection(host=held, alternates=[])
    with transaction.atomic():
        allocations_delete(consumer_id=request.instance_uuid)
    return select_destination(request)


def _shape(request: SchedulingRequest) -> tuple:
    """What makes two requests interchangeable for the scheduler: all but the instance."""
    fields = asdict(request)
    fields.pop("instance_uuid")
    return tuple(sorted((k, repr(v)) for k, v in fields.items()))


def select_destinations(requests: list[SchedulingRequest]) -> list[Selection]:
    """Decide several requests (the instances of one multi-create) together: requests of
    one shape share one candidate scan, are placed one after another on the hosts'
    remaining room (so they spread as the weighers say), and are claimed in one
    transaction. Server-group members, and a batch that lost a race, go one by one."""
    found: dict[str, Selection] = {}
    groups: dict[tuple, list[SchedulingRequest]] = {}
    for request in requests:
        groups.setdefault(_shape(request), []).append(request)
    for members in groups.values():
        if len(members) > 1 and not members[0].group_uuid:
            found.update(_select_together(members))
    for request in requests:
        if request.instance_uuid not in found:
            found[request.instance_uuid] = select_destination(request)
    return [found[r.instance_uuid] for r in requests]


def _select_together(requests: list[SchedulingRequest]) -> dict[str, Selection]:
    """Place requests of one shape on one candidate scan; {} when they must go one by one."""
    if consumers_holding([r.instance_uuid for r in requests]):
        return {}
    ctx = Scheduling(requests[0])
    active = _active_filters(ctx)
    nodes_sql = _narrowed_sql(ctx, active)
    hosts, _ = candidates(
        resources=ctx.request.resources,
        nodes=nodes_sql,
        offset=0,
        limit=max(settings.SCHEDULER_MAX_CANDIDATES, 2 * len(requests)),
        most_free_first=settings.RAM_WEIGHT_MULTIPLIER >= 0,
        hosts=_named_hosts(ctx, active),
    )
    hosts = [h for h in hosts if all(f.host_passes(h, ctx) for f in active if f.judges_hosts)]
    wanted = {rc: amount for rc, amount in ctx.request.resources.items() if amount}
    plan: list[tuple[SchedulingRequest, HostState, list[HostState]]] = []
    for request in requests:
        ranked = [
            h
            for h in _ranked(hosts, ctx)
            if all(h.free.get(rc, 0) >= a for rc, a in wanted.items())
        ]
        if not ranked:
            return {}
        chosen = ranked[0]
        plan.append((request, chosen, ranked[1:]))
        left = {rc: chosen.free.get(rc, 0) - wanted.get(rc, 0) for rc in chosen.free}
        hosts = [replace(h, free=left) if h is chosen else h for h in hosts]
    try:
        allocations_claim_many(
            [(r.instance_uuid, r.project_id, h.provider_id, r.resources) for r, h, _ in plan]
        )
    except ClaimRejected as exc:
        log.info("batch of %d lost a race (%s); placing one by one", len(requests), exc)
        return {}
    limit = settings.SCHEDULER_NUM_ALTERNATES
    return {
        r.instance_uuid: Selection(host=h.name, alternates=[a.name for a in rest][:limit])
        for r, h, rest in plan
    }


def claim_on(request: SchedulingRequest, host: str) -> bool:
    """Claim on one named host (a reschedule onto an alternate) if it still passes every
    filter and has room; False otherwise, with nothing claimed."""
    ctx = Scheduling(request)
    active = _active_filters(ctx)
    found, _ = candidates(
        resources=request.resources,
        nodes=_narrowed_sql(ctx, active),
        offset=0,
        limit=1,
        hosts={host},
    )
    if not found or not all(f.host_passes(found[0], ctx) for f in active):
        return False
    try:
        _claim(ctx, found[0])
    except ConsumerExists:  # a redelivered reschedule: the claim is made already
        return consumer_provider(consumer_id=request.instance_uuid) == host
    except ClaimRejected as exc:
        log.info("claim for %s on alternate %s failed: %s", request.instance_uuid, host, exc)
        return False
    return True


def _describe(ctx: Scheduling) -> str:
    return ", ".join(describe_amount(rc, amount) for rc, amount in wanted(ctx))


def no_valid_host_reason(request: SchedulingRequest) -> str:
    """Why no host fits: the filters applied one after another to every host, each with
    how many hosts it removed: a message an operator can act on."""
    ctx = Scheduling(request)
    nodes = ComputeNode.objects.all()
    total = remaining = nodes.count()
    parts = []

    def step(narrowed: QuerySet, reason: str) -> QuerySet:
        nonlocal remaining
        count = narrowed.count()
        if count < remaining:
            parts.append(f"{remaining - count} {reason}")
        remaining = count
        return narrowed

    if request.ignore_hosts:
        nodes = step(nodes.exclude(host__in=request.ignore_hosts), "already failed this build")
    for host_filter in _active_filters(ctx):
        for narrowed, reason in host_filter.stages(nodes, ctx):
            nodes = step(narrowed, reason)
        if host_filter.judges_hosts:
            rows = ResourceProvider.objects.filter(name__in=nodes.values("host")).values_list(
                "pk", "name"
            )
            passing = [h.name for h in host_states(list(rows)) if host_filter.host_passes(h, ctx)]
            nodes = step(nodes.filter(host__in=passing), host_filter.describe(ctx))
    if not total:
        detail = "no compute hosts are registered"
    elif remaining:
        detail = f"the {remaining} that fit were taken by concurrent requests"
    else:
        detail = ", ".join(parts)
    return f"No valid host was found. 0 of {total} hosts could take {_describe(ctx)}: {detail}."
