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
from django.db import transaction

from cloud.api.errors import BadRequest, Forbidden
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
# Nova keeps per-user limits for what a user creates; the others are project-wide only.
PER_USER = frozenset({"instances", "cores", "ram", "key_pairs", "server_groups"})
# Resources counted and limited per user only (Nova counts key pairs per user).
USER_SCOPED = frozenset({"key_pairs"})
UNITS = {"instances": "instances", "cores": "cores", "ram": "MB of RAM"}

# counter(project_id, user_id or None) -> live usage
Counter = Callable[[str, str | None], int]
_counters: dict[str, Counter] = {}


class QuotaExceeded(Forbidden):
    default_code = "forbidden"


@dataclass(frozen=True)
class QuotaUsage:
    limit: int
    in_use: int


def register_counter(resource: str, counter: Counter) -> None:
    """Called by the app owning the resource's rows, from its AppConfig.ready()."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown quota resource {resource}")
    _counters[resource] = counter


def defaults() -> dict[str, int]:
    return {name: int(settings.QUOTA_DEFAULTS[name]) for name in RESOURCES}


def limits(*, project_id: str, user_id: str | None = None) -> dict[str, int]:
    """Effective limits: the user's own rows, else the project's, else the defaults."""
    found = defaults()
    rows = Quota.objects.filter(project_id=project_id, user__isnull=True)
    found.update(dict(rows.values_list("resource", "hard_limit")))
    if user_id:
        rows = Quota.objects.filter(project_id=project_id, user_id=user_id)
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


def _scopes(resource: str, *, project_id: str, user_id: str) -> list[tuple[int, str | None]]:
    """The (limit, whose usage) pairs a new unit of this resource must fit under."""
    user_rows = dict(
        Quota.objects.filter(project_id=project_id, user_id=user_id).values_list(
            "resource", "hard_limit"
        )
    )
    project_limit = limits(project_id=project_id)[resource]
    if resource in USER_SCOPED:
        return [(user_rows.get(resource, project_limit), user_id)]
    scopes: list[tuple[int, str | None]] = [(project_limit, None)]
    if resource in PER_USER and resource in user_rows:
        scopes.append((user_rows[resource], user_id))
    return scopes


def _fits(resource: str, per_unit: int, wanted: int, *, project_id: str, user_id: str) -> int:
    """How many of `wanted` units of per_unit each fit; raises if fewer than one would."""
    fits = wanted
    for limit, scope_user in _scopes(resource, project_id=project_id, user_id=user_id):
        if limit < 0:
            continue
        used = usage(resource, project_id=project_id, user_id=scope_user)
        fits = min(fits, max(limit - used, 0) // per_unit)
    return fits


def _violation(resource: str, requested: int, *, project_id: str, user_id: str) -> QuotaExceeded:
    """The exception naming the limit the request breaks."""
    for limit, scope_user in _scopes(resource, project_id=project_id, user_id=user_id):
        used = usage(resource, project_id=project_id, user_id=scope_user)
        if 0 <= limit < used + requested:
            return _exceeded(resource, requested, used, limit)
    return _exceeded(resource, requested, 0, 0)


def quota_enforce(*, project_id: str, user_id: str, deltas: dict[str, int]) -> None:
    """Raise QuotaExceeded (403) unless every delta fits; call inside the writing transaction."""
    lock_project(project_id)
    for resource, delta in deltas.items():
        if delta > 0 and _fits(resource, delta, 1, project_id=project_id, user_id=user_id) < 1:
            raise _violation(resource, delta, project_id=project_id, user_id=user_id)


def instances_allowed(
    *, project_id: str, user_id: str, vcpus: int, memory_mb: int, min_count: int, max_count: int
) -> int:
    """How many of max_count instances fit (Nova's multi-create rule); 403 below min_count."""
    lock_project(project_id)
    allowed = max_count
    for resource, per_unit in (("instances", 1), ("cores", vcpus), ("ram", memory_mb)):
        if per_unit <= 0:
            continue
        fits = _fits(resource, per_unit, max_count, project_id=project_id, user_id=user_id)
        if fits < min_count:
            raise _violation(resource, per_unit * min_count, project_id=project_id, user_id=user_id)
        allowed = min(allowed, fits)
    return allowed


def metadata_check(*, project_id: str, items: int) -> None:
    """Server metadata is limited per request, not counted."""
    limit = limits(project_id=project_id)["metadata_items"]
    if 0 <= limit < items:
        raise QuotaExceeded(
            f"Quota exceeded for metadata_items: Requested {items}, but the limit is {limit}"
        )


def _limit_parse(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"Invalid input for field/attribute {name}: {value!r} is not an integer")
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise BadRequest(
            f"Invalid input for field/attribute {name}: {value!r} is not an integer"
        ) from None
    if not -1 <= limit <= QUOTA_MAX:
        raise BadRequest(
            f"Invalid input for field/attribute {name}: {limit} must be between -1 and {QUOTA_MAX}"
        )
    return limit


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


def _count_key_pairs(project_id: str, user_id: str | None) -> int:
    return KeyPair.objects.filter(user_id=user_id).count()


register_counter("key_pairs", _count_key_pairs)
