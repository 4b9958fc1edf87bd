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

Requests waiting together are decided in a pass (decide_pass): one scan per
shape of request, each placed on the room the ones before it left, one claim.
Concurrent passes of other scheduler processes spread instead of racing: a
pass's scan passes over the hosts another pass is planning on (on PostgreSQL).
"""

import contextlib
import logging
import random
from dataclasses import dataclass, replace
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet

from cloud.hosts.models import ComputeNode
from cloud.observability import metrics
from cloud.placement.claims import (
    ClaimRejected,
    ConsumerExists,
    Fitted,
    ProviderBusy,
    allocations_claim_new_fitting,
    allocations_claim_new_many,
    allocations_delete,
)
from cloud.placement.selectors import consumer_provider, providers_named
from cloud.scheduler import filters, weighers
from cloud.scheduler.filters.groups import policy_allows
from cloud.scheduler.filters.resources import describe_amount, wanted
from cloud.scheduler.models import ServerGroup, ServerGroupMember
from cloud.scheduler.request import (
    HostState,
    Scheduling,
    SchedulingRequest,
    canonical_uuid,
    groups_member_hosts,
)
from cloud.scheduler.selectors import candidates, host_states

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
    return [f for f in active if f.in_candidate_query]


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


def _claim(plan: list[tuple[Scheduling, HostState]], *, wait: bool = True) -> None:
    """Claim for instances holding nothing yet (ConsumerExists otherwise), each on its
    chosen host, in one transaction: all of them or none. For server-group members it
    is made under their groups' locks (taken in id order), re-checking each policy
    against the members placed so far, and records the memberships with the claims."""
    claims = [
        (ctx.request.instance_uuid, ctx.request.project_id, host.provider_id, ctx.request.resources)
        for ctx, host in plan
    ]
    if not any(ctx.group is not None for ctx, _ in plan):
        allocations_claim_new_many(claims, wait=wait)
        return
    with transaction.atomic():
        _checked_members(plan)
        allocations_claim_new_many(claims, wait=wait)
        _record_members(plan, {ctx.request.instance_uuid for ctx, _ in plan})


def _claim_fitting(plan: list[tuple[Scheduling, HostState]]) -> Fitted:
    """Claim for instances holding nothing yet, each on its chosen host, what still fits:
    each host with room for everything planned on it takes it, the others nothing, in
    one transaction (under the server groups' locks, as `_claim`)."""
    claims = [
        (ctx.request.instance_uuid, ctx.request.project_id, host.provider_id, ctx.request.resources)
        for ctx, host in plan
    ]
    if not any(ctx.group is not None for ctx, _ in plan):
        return allocations_claim_new_fitting(claims)
    with transaction.atomic():
        _checked_members(plan)
        fitted = allocations_claim_new_fitting(claims)
        _record_members(plan, fitted.claimed)
        return fitted


def _checked_members(plan: list[tuple[Scheduling, HostState]]) -> None:
    """Lock the server groups of the plan's members (in id order) and re-check each
    policy against the members placed so far and those the plan places before it
    (ClaimRejected naming the host that would break one). Inside a transaction."""
    members = [(ctx, host) for ctx, host in plan if ctx.group is not None]
    if members:
        ids = sorted({ctx.group.pk for ctx, _ in members})
        groups = ServerGroup.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        locked = {group.pk: group for group in groups}
        deciding = [ctx.request.instance_uuid for ctx, _ in members]
        placed = groups_member_hosts(list(locked.values()), exclude=deciding)
        for ctx, host in members:
            group = locked.get(ctx.group.pk)
            if group is None:
                raise ClaimRejected(f"server group {ctx.group.uuid} was deleted")
            if not policy_allows(group.policy, group.rules, placed[group.pk], host.name):
                raise ClaimRejected(
                    f"{host.name} would break the {group.policy} policy of group {group.uuid}",
                    host.provider_id,
                )
            placed[group.pk][host.name] = placed[group.pk].get(host.name, 0) + 1


def _record_members(plan: list[tuple[Scheduling, HostState]], claimed: set[str]) -> None:
    """The memberships of the plan's server-group members that were claimed."""
    ServerGroupMember.objects.bulk_create(
        [
            ServerGroupMember(
                instance_uuid=ctx.request.instance_uuid, group_id=ctx.group.pk, host=host.name
            )
            for ctx, host in plan
            if ctx.group is not None and ctx.request.instance_uuid in claimed
        ],
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
            _claim([(ctx, host)], wait=False)
            return index
        except ProviderBusy:
            busy.append(index)
        except ClaimRejected as exc:
            log.info("claim for %s on %s lost: %s", ctx.request.instance_uuid, host.name, exc)
    for index in busy:
        try:
            _claim([(ctx, ranked[index])])
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
            metrics.scheduler_decided(host=ranked[index].name)
            return Selection(host=ranked[index].name, alternates=alternates)
    label, reason = no_valid_host(request)
    log.warning("%s: %s", request.instance_uuid, reason)
    metrics.scheduler_decided(host=None, reason=label)
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


def select_destinations(requests: list[SchedulingRequest]) -> list[Selection]:
    """Decide several requests together (the instances of a multi-create): in passes of
    `decide_pass`, planning again what lost a race to another scheduler, up to
    PASS_ATTEMPTS passes, the last of which decides what still races one by one."""
    found: dict[str, Selection] = {}
    pending = requests
    for attempt in range(1, PASS_ATTEMPTS + 1):
        final = {r.instance_uuid for r in pending} if attempt == PASS_ATTEMPTS else set()
        decided = decide_pass(pending, final)
        found.update(decided.selections)
        pending = decided.raced
        if not pending:
            break
    return [found[r.instance_uuid] for r in requests]


# How many passes plan a request that keeps losing races to other schedulers, before it
# is decided alone (claiming host by host, waiting for a busy one).
PASS_ATTEMPTS = 3


@dataclass(frozen=True)
class Decided:
    """What one pass decided: a selection (a host, or the fault) for each request but
    those whose host another scheduler filled while the pass planned (`raced`: the
    caller plans them again, in its next pass)."""

    selections: dict[str, Selection]
    raced: list[SchedulingRequest]


_Plan = list[tuple[Scheduling, HostState, list[str]]]


def decide_pass(
    requests: list[SchedulingRequest], final: set[str] | frozenset = frozenset()
) -> Decided:
    """Decide the requests waiting together in one pass: the instances of a multi-create,
    or all the requests waiting in one scheduler process (cloud.scheduler.passes).

    Requests that the filters narrow alike share one candidate scan. Each is placed in
    turn on the room the requests before it left (so they spread as the weighers say,
    and members of one server group keep its policy among themselves), and all the
    claims are made in one transaction, each host taking what was planned on it if it
    still fits. A request whose host another scheduler filled meanwhile is returned in
    `raced`, to be planned again on fresh reads in the caller's next pass, which costs
    no query of its own; one in `final` is decided alone instead. What the pass cannot
    place (no room among the scanned hosts, a claim held already by a redelivered
    request) is decided one by one."""
    unique = list({r.instance_uuid: r for r in requests}.values())
    selections: dict[str, Selection] = {}
    raced: list[SchedulingRequest] = []
    if len(unique) > 1:
        # On PostgreSQL the pass is one transaction, which holds the marks of the hosts
        # it plans on until its claim commits; SQLite's would hold the one write lock
        # while planning.
        spreading = connection.vendor == "postgresql"
        with transaction.atomic() if spreading else contextlib.nullcontext():
            plan = _plan([Scheduling(r) for r in unique])
            claimed, held = _claim_plan(plan)
        selections.update(
            (ctx.request.instance_uuid, Selection(host=host.name, alternates=alternates))
            for ctx, host, alternates in claimed
        )
        lost = {ctx.request.instance_uuid for ctx, _, _ in plan} - selections.keys() - held
        raced = [r for r in unique if r.instance_uuid in lost - final]
    again = {r.instance_uuid for r in raced}
    for request in unique:
        if request.instance_uuid not in selections and request.instance_uuid not in again:
            selections[request.instance_uuid] = select_destination(request)
    return Decided(selections=selections, raced=raced)


def _claim_plan(plan: _Plan) -> tuple[_Plan, set[str]]:
    """Claim what still fits of a pass's plan: (what was claimed, the requests that held
    a claim already). When another scheduler took the room the plan counted on a host,
    the requests planned there are left out (planned again in the next pass, on fresh
    reads) and the rest claimed all the same. A server group's policy that the plan
    would break on a host leaves that host's requests out likewise."""
    while plan:
        try:
            fitted = _claim_fitting([(ctx, host) for ctx, host, _ in plan])
        except ClaimRejected as exc:
            log.info("a pass of %d lost a race: %s", len(plan), exc)
            rest = [step for step in plan if step[1].provider_id != exc.provider_id]
            plan = rest if len(rest) < len(plan) else []
            continue
        claimed = [step for step in plan if step[0].request.instance_uuid in fitted.claimed]
        refused = len(plan) - len(claimed) - len(fitted.existing)
        if refused:
            log.info(
                "a pass of %d lost a race: %d claimed, %d planned again",
                len(plan),
                len(claimed),
                refused,
            )
        return claimed, fitted.existing
    return [], set()


def _plan(pending: list[Scheduling]) -> _Plan:
    """Where each request would go, and its alternates: one candidate scan per shape of
    narrowing, each request then judged on the room the requests before it took. A
    request left without a host is left out (it is decided alone, scanning further).

    The scan passes over the hosts other schedulers' passes are planning on right now
    (and marks its own, until the pass's claim commits): concurrent passes spread over
    the next hosts in the weighers' order instead of racing for the same ones. What
    does not fit on the hosts left to it (a small cloud, whose every host another pass
    marked) is planned by a second scan on all of them, as if no pass were marking:
    its claim then waits for theirs and takes what still fits."""
    _load_groups(pending)
    shapes: dict[tuple, tuple[tuple[str, tuple], set[str] | None, list]] = {}
    for ctx in pending:
        active = _active_filters(ctx)
        nodes = _narrowed_sql(ctx, active)
        if nodes is None:
            continue
        named = _named_hosts(ctx, active)
        key: tuple = (nodes[0], tuple(nodes[1]), None if named is None else tuple(sorted(named)))
        try:
            hash(key)
        except TypeError:  # a parameter no other request can share: a shape of its own
            key = (id(ctx),)
        shapes.setdefault(key, (nodes, named, []))[2].append((ctx, active))
    room: dict[int, HostState] = {}  # hosts as the pass has left them
    plan: _Plan = []
    for nodes, named, members in shapes.values():
        # Hosts a filter named (a group's, a forced one) are these requests' only
        # choice, whoever else is planning on them. (SQLite's one writer plans alone.)
        spread = named is None and connection.vendor == "postgresql"
        for skip_claimed in (True, False) if spread else (False,):
            members = _plan_shape(nodes, named, members, skip_claimed, room, plan)
            if not members:
                break
    return plan


def _plan_shape(
    nodes: tuple[str, tuple],
    named: set[str] | None,
    members: list[tuple[Scheduling, list[filters.HostFilter]]],
    skip_claimed: bool,
    room: dict[int, HostState],
    plan: _Plan,
) -> list[tuple[Scheduling, list[filters.HostFilter]]]:
    """Plan the requests of one shape on one candidate scan (adding to `plan`, and
    moving `room` on); the requests it found no host for."""
    classes = {rc for ctx, _ in members for rc in ctx.request.resources}
    smallest = {rc: min(ctx.request.resources.get(rc, 0) for ctx, _ in members) for rc in classes}
    found, _ = candidates(
        resources=smallest,
        nodes=nodes,
        offset=0,
        limit=max(settings.SCHEDULER_MAX_CANDIDATES, 2 * len(members)),
        most_free_first=settings.RAM_WEIGHT_MULTIPLIER >= 0,
        hosts=named,
        skip_claimed=skip_claimed,
    )
    unplaced = []
    for ctx, active in members:
        resources = ctx.request.resources
        judging = [f for f in active if f.judges_hosts]
        hosts = [room.get(h.provider_id, h) for h in found]
        passing = [h for h in hosts if h.fits(resources)]
        if judging:
            passing = [h for h in passing if all(f.host_passes(h, ctx) for f in judging)]
        ranked = _ranked(passing, ctx) if passing else []
        if not ranked:
            unplaced.append((ctx, active))
            continue
        host, rest = ranked[0], ranked[1:]
        left = {rc: free - resources.get(rc, 0) for rc, free in host.free.items()}
        room[host.provider_id] = replace(host, free=left)
        if ctx.group is not None:
            ctx.group_hosts[host.name] = ctx.group_hosts.get(host.name, 0) + 1
        plan.append((ctx, host, [h.name for h in rest][: settings.SCHEDULER_NUM_ALTERNATES]))
    return unplaced


def _load_groups(pending: list[Scheduling]) -> None:
    """The server groups of a pass's requests and their members' hosts, in two queries.
    Members of one group share one count of its hosts, which the pass moves on as it
    places them (for the group filters and weighers)."""
    uuids = {ctx.request.group_uuid for ctx in pending if ctx.request.group_uuid}
    if not uuids:
        return
    valid = {canonical_uuid(uuid) for uuid in uuids} - {None}
    groups = {str(g.uuid): g for g in ServerGroup.objects.filter(uuid__in=valid)}
    deciding = [ctx.request.instance_uuid for ctx in pending]
    hosts = groups_member_hosts(list(groups.values()), exclude=deciding)
    for ctx in pending:
        if ctx.request.group_uuid:
            group = groups.get(canonical_uuid(ctx.request.group_uuid))
            ctx.group = group
            ctx.group_hosts = hosts[group.pk] if group is not None else {}


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
        _claim([(ctx, found[0])])
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
    return no_valid_host(request)[1]


def no_valid_host(request: SchedulingRequest) -> tuple[str, str]:
    """(label, message): the filter that removed the last hosts (a metric's label:
    "no_hosts", "ignore_hosts", a filter's class name, "concurrent_claims"), and the
    message of no_valid_host_reason."""
    ctx = Scheduling(request)
    nodes = ComputeNode.objects.all()
    total = remaining = nodes.count()
    parts = []
    emptied_by = "no_hosts"

    def step(narrowed: QuerySet, reason: str, label: str) -> QuerySet:
        nonlocal remaining, emptied_by
        count = narrowed.count()
        if count < remaining:
            parts.append(f"{remaining - count} {reason}")
            if not count:
                emptied_by = label
        remaining = count
        return narrowed

    if request.ignore_hosts:
        nodes = step(
            nodes.exclude(host__in=request.ignore_hosts),
            "already failed this build",
            "ignore_hosts",
        )
    for host_filter in _active_filters(ctx):
        label = type(host_filter).__name__
        for narrowed, reason in host_filter.stages(nodes, ctx):
            nodes = step(narrowed, reason, label)
        if host_filter.judges_hosts and not host_filter.narrows:
            rows = providers_named(names=nodes.values("host"))
            passing = [h.name for h in host_states(rows) if host_filter.host_passes(h, ctx)]
            nodes = step(nodes.filter(host__in=passing), host_filter.describe(ctx), label)
    if not total:
        detail = "no compute hosts are registered"
    elif remaining:
        detail = f"the {remaining} that fit were taken by concurrent requests"
        emptied_by = "concurrent_claims"
    else:
        detail = ", ".join(parts)
    message = f"No valid host was found. 0 of {total} hosts could take {_describe(ctx)}: {detail}."
    return emptied_by, message
