"""Quotas: the limits of each project (and of users within it), their usage, enforcement,
and the operator's changes to the limits.

Limits come from Quota rows an admin set, else from settings.QUOTA_DEFAULTS;
-1 means unlimited. Usage is never stored: each counted resource has a
counter, registered by the app that owns its rows, that counts live rows, so
usage cannot drift. Enforcement runs inside the caller's transaction and
first locks the project's row, so the check and the write that consumes
the quota are one atomic step: concurrent requests of a project queue up on
that lock instead of both passing the check.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from cloud.api.errors import BadRequest, Forbidden, NotFound
from cloud.api.parsing import parse_int
from cloud.identity.models import KeyPair, Project, Quota

QUOTA_MAX = 0x7FFFFFFF
RESOURCES = (
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
)
# Neutron's resources (the network API's quotas), counted by cloud.network.
NETWORK_RESOURCES = (
    "network",
    "subnet",
    "port",
    "security_group",
    "security_group_rule",
    "floatingip",
)
# Cinder's resources (the block-storage API's quotas), counted by cloud.volumes.
VOLUME_RESOURCES = ("volumes", "gigabytes", "snapshots")
# Nova keeps per-user limits for what a user creates; the others are project-wide only.
PER_USER = frozenset({"instances", "cores", "ram", "key_pairs", "server_groups"})
# Resources counted and limited per user only (Nova counts key pairs per user).
USER_SCOPED = frozenset({"key_pairs"})
UNITS = {"instances": "instances", "cores": "cores", "ram": "MB of RAM"}

# counter(project_id, user_id or None) -> live usage
Counter = Callable[[str, str | None], int]
_counters: dict[str, Counter] = {}
# counter(project_id, user_id or None) -> live usage of each of several resources
GroupCounter = Callable[[str, str | None], dict[str, int]]
_group_counters: dict[str, GroupCounter] = {}


class QuotaExceeded(Forbidden):
    default_code = "forbidden"


@dataclass(frozen=True)
class QuotaUsage:
    limit: int
    in_use: int


def register_counter(resource: str, counter: Counter) -> None:
    """Called by the app owning the resource's rows, from its AppConfig.ready()."""
    if resource not in RESOURCES + NETWORK_RESOURCES + VOLUME_RESOURCES:
        raise ValueError(f"unknown quota resource {resource}")
    _counters[resource] = counter


def register_counters(resources: tuple[str, ...], counter: GroupCounter) -> None:
    """Counters of several resources one query counts together (usages_of reads them
    at once); each is also counted alone by usage(). None of them is user-scoped."""
    if USER_SCOPED & set(resources):
        raise ValueError(f"user-scoped resources are counted alone: {resources}")
    for resource in resources:
        register_counter(
            resource, lambda project_id, user_id, r=resource: counter(project_id, user_id)[r]
        )
        _group_counters[resource] = counter


def usages_of(
    resources: Collection[str], *, project_id: str, user_id: str | None = None
) -> dict[str, int]:
    """The live usage of these resources, those counted together in one query."""
    found: dict[str, int] = {}
    for resource in resources:
        if resource in found:
            continue
        group = _group_counters.get(resource)
        if group is not None:
            found.update(group(project_id, user_id))
        else:
            found[resource] = usage(resource, project_id=project_id, user_id=user_id)
    return {resource: found[resource] for resource in resources}


def defaults() -> dict[str, int]:
    return {name: int(settings.QUOTA_DEFAULTS[name]) for name in RESOURCES}


def network_defaults() -> dict[str, int]:
    return {name: int(settings.NETWORK_QUOTA_DEFAULTS[name]) for name in NETWORK_RESOURCES}


def volume_defaults() -> dict[str, int]:
    return {name: settings.VOLUME_QUOTA_DEFAULTS[name] for name in VOLUME_RESOURCES}


def limits(
    *, project_id: str, user_id: str | None = None, network: bool = False, volume: bool = False
) -> dict[str, int]:
    """Effective limits: the user's own rows, else the project's, else the defaults
    (of the compute resources, with `network` of Neutron's, with `volume` of Cinder's)."""
    found = network_defaults() if network else volume_defaults() if volume else defaults()
    rows = Quota.objects.filter(project_id=project_id, user__isnull=True, resource__in=found)
    found.update(dict(rows.values_list("resource", "hard_limit")))
    if user_id:
        rows = Quota.objects.filter(project_id=project_id, user_id=user_id, resource__in=found)
        found.update(dict(rows.values_list("resource", "hard_limit")))
    return found


def usage(resource: str, *, project_id: str, user_id: str | None = None) -> int:
    counter = _counters.get(resource)
    if counter is None:
        return 0
    if resource in USER_SCOPED and user_id is None:
        return 0
    return counter(project_id, user_id)


def usages(*, project_id: str, user_id: str | None = None) -> dict[str, QuotaUsage]:
    """Limit and live usage of every resource (the os-quota-sets detail view)."""
    found = limits(project_id=project_id, user_id=user_id)
    return {
        name: QuotaUsage(
            limit=found[name], in_use=usage(name, project_id=project_id, user_id=user_id)
        )
        for name in RESOURCES
    }


def network_usages(*, project_id: str) -> dict[str, QuotaUsage]:
    """Limit and live usage of each of Neutron's resources (its quota details view)."""
    found = limits(project_id=project_id, network=True)
    return {
        name: QuotaUsage(limit=found[name], in_use=usage(name, project_id=project_id))
        for name in NETWORK_RESOURCES
    }


def volume_usages(*, project_id: str) -> dict[str, QuotaUsage]:
    """Limit and live usage of each of Cinder's resources (its os-quota-sets usage view)."""
    found = limits(project_id=project_id, volume=True)
    return {
        name: QuotaUsage(limit=found[name], in_use=usage(name, project_id=project_id))
        for name in VOLUME_RESOURCES
    }


def _exceeded(resource: str, requested: int, used: int, limit: int) -> QuotaExceeded:
    unit = UNITS.get(resource, resource)
    return QuotaExceeded(
        f"Quota exceeded for {resource}: Requested {requested}, "
        f"but already used {used} of {limit} {unit}"
    )


def lock_project(project_id: str) -> None:
    """Serialize quota checks and limit changes of one project until the transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quota enforcement must run inside the transaction that consumes it")
    list(Project.objects.select_for_update().filter(id=project_id).values_list("id"))


@dataclass(frozen=True)
class _Rows:
    """A project's limit rows and one user's, read in one query."""

    project: dict[str, int]
    user: dict[str, int]


def _rows(*, project_id: str, user_id: str) -> _Rows:
    found = _Rows(project={}, user={})
    rows = Quota.objects.filter(Q(user__isnull=True) | Q(user_id=user_id), project_id=project_id)
    for user, resource, hard_limit in rows.values_list("user_id", "resource", "hard_limit"):
        (found.user if user else found.project)[resource] = hard_limit
    return found


def _default(resource: str) -> int:
    if resource in NETWORK_RESOURCES:
        return network_defaults()[resource]
    if resource in VOLUME_RESOURCES:
        return volume_defaults()[resource]
    return defaults()[resource]


def _scopes(resource: str, rows: _Rows, *, user_id: str) -> list[tuple[int, str | None]]:
    """The (limit, whose usage) pairs a new unit of this resource must fit under."""
    project_limit = rows.project.get(resource, _default(resource))
    if resource in USER_SCOPED:
        return [(rows.user.get(resource, project_limit), user_id)]
    scopes: list[tuple[int, str | None]] = [(project_limit, None)]
    if resource in PER_USER and resource in rows.user:
        scopes.append((rows.user[resource], user_id))
    return scopes


def _fits(
    resource: str, per_unit: int, wanted: int, rows: _Rows, *, project_id: str, user_id: str
) -> int:
    """How many of `wanted` units of per_unit each fit; raises if fewer than one would."""
    fits = wanted
    for limit, scope_user in _scopes(resource, rows, user_id=user_id):
        if limit < 0:
            continue
        used = usage(resource, project_id=project_id, user_id=scope_user)
        fits = min(fits, max(limit - used, 0) // per_unit)
    return fits


def _violation(
    resource: str, requested: int, rows: _Rows, *, project_id: str, user_id: str
) -> QuotaExceeded:
    """The exception naming the limit the request breaks."""
    for limit, scope_user in _scopes(resource, rows, user_id=user_id):
        used = usage(resource, project_id=project_id, user_id=scope_user)
        if 0 <= limit < used + requested:
            return _exceeded(resource, requested, used, limit)
    return _exceeded(resource, requested, 0, 0)


def quota_enforce(*, project_id: str, user_id: str, deltas: dict[str, int]) -> None:
    """Raise QuotaExceeded (403) unless every delta fits; call inside the writing transaction."""
    lock_project(project_id)
    rows = _rows(project_id=project_id, user_id=user_id)
    for resource, delta in deltas.items():
        if (
            delta > 0
            and _fits(resource, delta, 1, rows, project_id=project_id, user_id=user_id) < 1
        ):
            raise _violation(resource, delta, rows, project_id=project_id, user_id=user_id)


def instances_allowed(
    *, project_id: str, user_id: str, vcpus: int, memory_mb: int, min_count: int, max_count: int
) -> int:
    """How many of max_count instances fit (Nova's multi-create rule); 403 below min_count."""
    lock_project(project_id)
    rows = _rows(project_id=project_id, user_id=user_id)
    allowed = max_count
    for resource, per_unit in (("instances", 1), ("cores", vcpus), ("ram", memory_mb)):
        if per_unit <= 0:
            continue
        fits = _fits(resource, per_unit, max_count, rows, project_id=project_id, user_id=user_id)
        if fits < min_count:
            raise _violation(
                resource, per_unit * min_count, rows, project_id=project_id, user_id=user_id
            )
        allowed = min(allowed, fits)
    return allowed


def instances_written_check(
    *, project_id: str, user_id: str, vcpus: int, memory_mb: int, count: int
) -> None:
    """403 unless the `count` instances this transaction has just written fit the quotas
    (their usage counted with them). For a create of a fixed count: checked after the
    writes, under the project's lock, so the lock is held from here to the commit only,
    not across the whole create (instances_allowed, which decides how many to write,
    takes it before them). Concurrent creates still serialize on the check, and each
    one's count sees the others' committed rows; with no limit to pass, they do not
    wait for one another (_unlimited_shared)."""
    wanted = {"instances": 1, "cores": vcpus, "ram": memory_mb}
    wanted = {resource: per_unit for resource, per_unit in wanted.items() if per_unit > 0}
    # As read before any lock: a limited project (the defaults limit every project) goes
    # straight to the exclusive lock; one that looks unlimited confirms it under the
    # shared lock.
    seen = _rows(project_id=project_id, user_id=user_id)
    if not _limited(seen, wanted) and _unlimited_shared(
        project_id=project_id, user_id=user_id, resources=list(wanted)
    ):
        return
    lock_project(project_id)
    rows = _rows(project_id=project_id, user_id=user_id)
    checks = [
        (resource, per_unit, limit, scope_user)
        for resource, per_unit in wanted.items()
        for limit, scope_user in _scopes(resource, rows, user_id=user_id)
        if limit >= 0
    ]
    used = {
        scope: usages_of(
            [resource for resource, _, _, user in checks if user == scope],
            project_id=project_id,
            user_id=scope,
        )
        for scope in {user for *_, user in checks}
    }
    for resource, per_unit, limit, scope_user in checks:
        in_use = used[scope_user][resource]
        if in_use > limit:
            requested = per_unit * count
            raise _exceeded(resource, requested, in_use - requested, limit)


def _limited(rows: _Rows, resources: Collection[str]) -> bool:
    """Whether the project or the user has a limit on any of these resources."""
    return any(
        rows.project.get(r, _default(r)) >= 0 or rows.user.get(r, -1) >= 0 for r in resources
    )


class _Limited(Exception):
    """A resource has a limit: the shared lock taken to look is given back."""


def _unlimited_shared(*, project_id: str, user_id: str, resources: list[str]) -> bool:
    """True when none of `resources` is limited for the project or the user, as read under
    a shared lock on the project's row held to the commit: creates then go past one
    another (there is nothing to count), while a limit change, which takes the row's
    exclusive lock (lock_project), waits for them to commit and counts what they wrote.
    False, with the shared lock given back (its savepoint rolled back), when one is
    limited; and on databases without shared row locks (SQLite serializes writers)."""
    if connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT 1 FROM {Project._meta.db_table} WHERE id = %s FOR SHARE", [project_id]
                )
            if _limited(_rows(project_id=project_id, user_id=user_id), resources):
                raise _Limited
    except _Limited:
        return False
    return True


def metadata_check(*, project_id: str, items: int) -> None:
    """A server's metadata items are limited per server (the count it would have), not
    summed over the project; 403 in Nova's words when over (no item is never over)."""
    if not items:
        return
    limit = limits(project_id=project_id)["metadata_items"]
    if 0 <= limit < items:
        raise QuotaExceeded(f"Maximum number of metadata items exceeds {limit}")


def _limit_parse(name: str, value: object) -> int:
    return parse_int(value, name=name, minimum=-1, maximum=QUOTA_MAX)


def _limits_parse(
    *, requested: Mapping[str, object], user_id: str | None, unmanaged: Collection[str]
) -> dict[str, int]:
    """The requested limits as integers; 400 for a resource that cannot take one."""
    wanted = {}
    for name, value in requested.items():
        if name in unmanaged:
            raise BadRequest(f"Quota {name} cannot be changed: Stratus does not manage it.")
        if name not in RESOURCES:
            raise BadRequest(f"Bad key(s) {name} in quota_set")
        if user_id and name not in PER_USER:
            raise BadRequest(f"Quota {name} is per project; it cannot be set for a user.")
        wanted[name] = _limit_parse(name, value)
    return wanted


def _limits_check(
    *, project_id: str, user_id: str | None, wanted: dict[str, int], force: bool
) -> None:
    """A user's limit stays within the project's; no limit goes below usage unless forced."""
    project_limits = limits(project_id=project_id)
    for name, limit in wanted.items():
        ceiling = project_limits[name]
        if user_id and ceiling >= 0 and not 0 <= limit <= ceiling:
            raise BadRequest(
                f"Quota limit {limit} for {name} must be between 0 and "
                f"{ceiling}, the project's limit."
            )
        if force or limit < 0:
            continue
        used = usage(name, project_id=project_id, user_id=user_id)
        if limit < used:
            raise BadRequest(
                f"Quota limit {limit} for {name} must be greater than or equal to "
                f"already used and reserved {used}."
            )


@transaction.atomic
def quota_set_update(
    *,
    project_id: str,
    user_id: str | None,
    requested: Mapping[str, object],
    force: bool = False,
    unmanaged: Collection[str] = (),
) -> dict[str, int]:
    """Set a project's (or one of its users') limits, under the project's lock so that no
    server create passes the old limit meanwhile; return the effective limits.

    `requested` holds the values as the caller sent them (400 unless an integer from -1);
    `unmanaged` names resources the caller shows but Stratus does not manage (400).
    """
    wanted = _limits_parse(requested=requested, user_id=user_id, unmanaged=unmanaged)
    lock_project(project_id)
    _limits_check(project_id=project_id, user_id=user_id, wanted=wanted, force=force)
    for name, limit in wanted.items():
        Quota.objects.update_or_create(
            project_id=project_id,
            user_id=user_id,
            resource=name,
            defaults={"hard_limit": limit},
        )
    return limits(project_id=project_id, user_id=user_id)


@transaction.atomic
def quota_set_delete(*, project_id: str, user_id: str | None) -> None:
    """Reset a project's (or one user's) limits to the defaults (the project's, for a user)."""
    lock_project(project_id)
    rows = Quota.objects.filter(project_id=project_id)
    rows = rows.filter(user_id=user_id) if user_id else rows.filter(user__isnull=True)
    rows.delete()


@transaction.atomic
def volume_quota_set_update(
    *, project_id: str, requested: Mapping[str, object], force: bool = False
) -> dict[str, int]:
    """Set a project's block-storage limits (Cinder's os-quota-sets update), under the
    project's lock; 400 for a resource Cinder does not know or a limit below usage."""
    wanted = {}
    for name, value in requested.items():
        if name not in VOLUME_RESOURCES:
            raise BadRequest(f"Bad key(s) in quota set: {name}")
        wanted[name] = _limit_parse(name, value)
    lock_project(project_id)
    for name, limit in wanted.items():
        used = usage(name, project_id=project_id)
        if not force and 0 <= limit < used:
            raise BadRequest(
                f"Quota limit {limit} for {name} must be greater than or equal to "
                f"already used and reserved {used}."
            )
        Quota.objects.update_or_create(
            project_id=project_id, user_id=None, resource=name, defaults={"hard_limit": limit}
        )
    return limits(project_id=project_id, volume=True)


@transaction.atomic
def volume_quota_delete(*, project_id: str) -> None:
    """Reset a project's block-storage limits to the defaults; its other limits stay."""
    lock_project(project_id)
    Quota.objects.filter(project_id=project_id, resource__in=VOLUME_RESOURCES).delete()


@transaction.atomic
def network_quota_delete(*, project_id: str) -> None:
    """Reset a project's network limits to the defaults (Neutron's quota delete); its
    compute limits stay."""
    lock_project(project_id)
    Quota.objects.filter(project_id=project_id, resource__in=NETWORK_RESOURCES).delete()


@transaction.atomic
def network_quota_update(
    *, project_id: str, requested: Mapping[str, object], check_limit: bool = False
) -> dict[str, int]:
    """Set a project's network limits (Neutron's quota update); the effective ones back.

    400 for a resource Neutron does not count or a value not an integer from -1; with
    `check_limit` (Neutron's option) a limit below the live usage is a 400 too."""
    unknown = sorted(set(requested) - set(NETWORK_RESOURCES))
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    wanted = {name: _limit_parse(name, value) for name, value in requested.items()}
    if not Project.objects.filter(id=project_id).exists():
        raise NotFound(f"Project {project_id} could not be found.")
    lock_project(project_id)
    for name, limit in wanted.items():
        if not check_limit or limit < 0:
            continue
        used = usage(name, project_id=project_id)
        if limit < used:
            raise BadRequest(
                f"Quota limit {limit} for {name} must be greater than or equal to "
                f"already used and reserved {used}."
            )
    for name, limit in wanted.items():
        Quota.objects.update_or_create(
            project_id=project_id, user_id=None, resource=name, defaults={"hard_limit": limit}
        )
    return limits(project_id=project_id, network=True)


def _count_key_pairs(project_id: str, user_id: str | None) -> int:
    return KeyPair.objects.filter(user_id=user_id).count()


register_counter("key_pairs", _count_key_pairs)
