"""Instance and flavor reads, scoped to what the caller may see, and the conductor's.

Another project's servers are invisible: they are filtered out of every
query, so a foreign id answers 404 exactly like an unknown one. The conductor's
reads (at the end) see every project: they find the rows a host's report, a
scheduler's answer or a deadline is about, and lock those it writes.
"""

import re
import uuid as uuidlib
from datetime import datetime

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMinute
from oslo_utils import strutils

from cloud.api.errors import BadRequest, NotFound
from cloud.api.pagination import after
from cloud.api.parsing import parse_int, uuid_or_none
from cloud.identity.context import RequestContext
from cloud.instances.models import (
    Flavor,
    FlavorAccess,
    Instance,
    InstanceAction,
    InstanceFault,
    RequestSpec,
)
from cloud.instances.states import VmState, vm_states_for_status


def _flavors_visible(context: RequestContext) -> QuerySet:
    """Every flavor for an admin; else the public ones and the private ones shared with
    the caller's project (Nova's flavor query)."""
    qs = Flavor.objects.all()
    if context.is_admin:
        return qs
    shared = FlavorAccess.objects.filter(flavor=OuterRef("pk"), project_id=context.project_id)
    return qs.filter(Q(is_public=True) | Exists(shared))


def flavor_find(*, flavor_id: str, context: RequestContext) -> Flavor | None:
    """The flavor the caller may see (a private one only with access), with its specs."""
    return _flavors_visible(context).filter(flavorid=flavor_id).prefetch_related("specs").first()


def flavor_get(*, flavor_id: str, context: RequestContext) -> Flavor:
    """flavor_find, or Nova's 404 (a private flavor without access is missing)."""
    flavor = flavor_find(flavor_id=flavor_id, context=context)
    if flavor is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def flavor_access_list(*, flavor: Flavor) -> list[str]:
    """The projects a private flavor is shared with, first shared first."""
    return list(flavor.access.values_list("project_id", flat=True))


def _is_public_filter(value: str | None) -> bool | None:
    """Nova's `is_public` for admins: absent is True, "none" is every flavor, else a
    strict boolean (400 for anything else)."""
    if value is None:
        return True
    if value.lower() == "none":
        return None
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise BadRequest(f"Invalid is_public filter [{value}]") from None


FLAVOR_SORT_COLUMNS = {
    "flavorid": "flavorid",
    "id": "id",
    "name": "name",
    "memory_mb": "memory_mb",
    "vcpus": "vcpus",
    "root_gb": "root_gb",
    "ephemeral_gb": "ephemeral_gb",
    "swap": "swap",
    "rxtx_factor": "rxtx_factor",
    "is_public": "is_public",
    "disabled": "disabled",
    "created_at": "created_at",
}


def flavor_list(*, context: RequestContext, params, with_specs: bool = False) -> QuerySet:
    """Nova's flavor list: a non-admin sees the enabled public flavors and the private
    ones shared with its project; an admin filters with `is_public` (the default, public
    ones and those shared with its project; "false", the private ones; "none", all)."""
    if context.is_admin:
        is_public = _is_public_filter(params.get("is_public"))
        qs = Flavor.objects.all()
        if is_public is not None:
            shared = FlavorAccess.objects.filter(
                flavor=OuterRef("pk"), project_id=context.project_id
            )
            wanted = Q(is_public=is_public)
            qs = qs.filter(wanted | Exists(shared) if is_public else wanted)
    else:
        qs = _flavors_visible(context).filter(disabled=False)
    for param, column in (("minRam", "memory_mb__gte"), ("minDisk", "root_gb__gte")):
        if params.get(param) is not None:
            qs = qs.filter(**{column: parse_int(params[param], name=param)})
    sort_key = params.get("sort_key", "flavorid")
    if sort_key not in FLAVOR_SORT_COLUMNS:
        raise BadRequest(f"Invalid sort_key {sort_key!r}")
    column = FLAVOR_SORT_COLUMNS[sort_key]
    descending = params.get("sort_dir", "asc") == "desc"
    direction = "-" if descending else ""
    qs = qs.order_by(f"{direction}{column}", f"{direction}id")
    marker = params.get("marker")
    if marker:
        found = _flavors_visible(context).filter(flavorid=marker).first()
        if found is None:
            raise BadRequest(f"marker [{marker}] not found")
        qs = after(qs, found, column, descending)
    return qs.prefetch_related("specs") if with_specs else qs


def instance_get(*, server_id: str, context: RequestContext) -> Instance:
    qs = Instance.objects.filter(uuid=_uuid_or_none(server_id), deleted=False)
    if not context.is_admin:
        qs = qs.filter(project_id=context.project_id)
    instance = qs.first()
    if instance is None:
        raise NotFound(f"Instance {server_id} could not be found.")
    return instance


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() not in ("0", "false", "no", "off")


def asks_all_tenants(params) -> bool:
    """`?all_tenants`, `?all_tenants=1`, `?all_tenants=True`: the admin's view of every project."""
    if "all_tenants" not in params:
        return False
    return params.get("all_tenants") in ("", None) or _truthy(params.get("all_tenants"))


def instance_list(*, context: RequestContext, params, all_tenants: bool = False) -> QuerySet:
    """The caller's project's instances, or every project's when all_tenants was authorized
    (without the columns no listing shows: the image's properties, key and user data)."""
    qs = Instance.objects.defer("image_meta", "key_data", "user_data")
    if all_tenants:
        project = params.get("project_id") or params.get("tenant_id")
        if project:
            qs = qs.filter(project_id=project)
    else:
        qs = qs.filter(project_id=context.project_id)
    if context.is_admin and _truthy(params.get("deleted")):
        qs = qs.filter(deleted=True)
    else:
        qs = qs.filter(deleted=False)
    name = params.get("name")
    if name:
        try:
            re.compile(name)
        except re.error as exc:
            raise BadRequest(f"Invalid name filter {name!r}: {exc}") from exc
        qs = qs.filter(display_name__regex=name)
    status = params.get("status")
    if status:
        qs = qs.filter(vm_state__in=vm_states_for_status(status))
    if context.is_admin and params.get("host"):
        qs = qs.filter(host=params["host"])
    for key, op in (("changes-since", "gte"), ("changes-before", "lte")):
        moment = _moment(params, key)
        if moment:
            qs = qs.filter(**{f"updated_at__{op}": moment})
    marker = params.get("marker")
    if marker:
        # Only a server the caller could list is a marker: another project's
        # would answer differently from an unknown id, and so reveal it exists.
        markers = Instance.objects.filter(uuid=_uuid_or_none(marker))
        if not all_tenants:
            markers = markers.filter(project_id=context.project_id)
        found = markers.first()
        if found is None:
            raise BadRequest(f"marker [{marker}] not found")
        qs = after(qs, found, "created_at", descending=True)
    return qs.order_by("-created_at", "-id")


def _moment(params, key: str) -> datetime | None:
    if not params.get(key):
        return None
    try:
        return datetime.fromisoformat(params[key].replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"Invalid {key}: {params[key]!r}") from exc


def instance_action_list(*, instance: Instance, params, filters: bool) -> QuerySet:
    """A server's actions, newest first; with `filters` (2.58+) after `marker` (a
    request id) and within changes-since / changes-before (2.66+, on updated_at)."""
    qs = InstanceAction.objects.filter(instance_uuid=instance.uuid).order_by("-start_time", "-id")
    if not filters:
        return qs
    for key, op in (("changes-since", "gte"), ("changes-before", "lte")):
        moment = _moment(params, key)
        if moment:
            qs = qs.filter(**{f"updated_at__{op}": moment})
    marker = params.get("marker")
    if marker:
        found = InstanceAction.objects.filter(
            instance_uuid=instance.uuid, request_id=marker
        ).first()
        if found is None:
            raise BadRequest(f"Marker {marker} could not be found.")
        qs = after(qs, found, "start_time", descending=True)
    return qs


def instance_action_get(*, instance: Instance, request_id: str) -> InstanceAction:
    action = (
        InstanceAction.objects.filter(instance_uuid=instance.uuid, request_id=request_id)
        .prefetch_related("events")
        .first()
    )
    if action is None:
        raise NotFound(f"Action {request_id} could not be found.")
    return action


def _uuid_or_none(value: str):
    return uuid_or_none(value)


def latest_faults(*, instance_uuids: list) -> dict[str, InstanceFault]:
    faults: dict[str, InstanceFault] = {}
    for fault in InstanceFault.objects.filter(instance_uuid__in=instance_uuids).order_by(
        "-created_at", "-id"
    ):
        faults.setdefault(str(fault.instance_uuid), fault)
    return faults


def _live_instances(project_id: str, user_id: str | None) -> QuerySet:
    qs = Instance.objects.filter(project_id=project_id, deleted=False)
    return qs.filter(user_id=user_id) if user_id else qs


def count_usage(project_id: str, user_id: str | None) -> dict[str, int]:
    """The live instances of the project (or of one user in it), their cores and their
    RAM: the three quotas' usage, in one query."""
    found = _live_instances(project_id, user_id).aggregate(
        instances=Count("id"), cores=Sum("vcpus"), ram=Sum("memory_mb")
    )
    return {resource: n or 0 for resource, n in found.items()}


def instance_counts_by_host(*, hosts: list[str]) -> dict[str, dict[str, int]]:
    """Live instances per host, and how many of them are mid-task (hypervisor views)."""
    rows = (
        Instance.objects.filter(host__in=hosts, deleted=False)
        .values("host")
        .annotate(running=Count("id"), busy=Count("id", filter=Q(task_state__isnull=False)))
    )
    return {row["host"]: {"running": row["running"], "busy": row["busy"]} for row in rows}


def instances_on_host(*, host: str) -> list[tuple[str, str]]:
    """(uuid, libvirt domain name) of the live instances on a host."""
    return [
        (str(i.uuid), i.domain_name)
        for i in Instance.objects.filter(host=host, deleted=False).only("id", "uuid")
    ]


def instance_hosts(*, uuids: list[str]) -> list[str]:
    """The hosts of the live, placed instances among `uuids` (scheduler hints)."""
    if not uuids:
        return []
    rows = Instance.objects.filter(uuid__in=uuids, deleted=False, host__isnull=False)
    return sorted(set(rows.values_list("host", flat=True)))


def instances_live(*, uuids: list[str], user_id: str | None = None) -> list[str]:
    """The uuids among `uuids` of instances not deleted (created by `user_id`, if given)."""
    if not uuids:
        return []
    rows = Instance.objects.filter(uuid__in=uuids, deleted=False)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    return [str(uuid) for uuid in rows.values_list("uuid", flat=True)]


# -- the conductor's reads ------------------------------------------------------------


def instance_live(*, uuid: str) -> Instance | None:
    """The instance with this uuid unless it is deleted."""
    return Instance.objects.filter(uuid=uuid, deleted=False).first()


def instance_locked(*, uuid: str) -> Instance | None:
    """The instance with this uuid (deleted or not), locked for the caller's transaction."""
    return Instance.objects.select_for_update().filter(uuid=uuid).first()


def instance_task_overdue_locked(
    *, uuid: str | uuidlib.UUID, task_state: str, updated_before: datetime
) -> Instance | None:
    """The live instance, locked, if it still is in `task_state` (and not building),
    unchanged since `updated_before`."""
    return (
        Instance.objects.select_for_update()
        .filter(uuid=uuid, deleted=False, task_state=task_state, updated_at__lt=updated_before)
        .exclude(vm_state=VmState.BUILDING)
        .first()
    )


def instance_idle_locked(
    *, uuid: str | uuidlib.UUID, host: str, updated_before: datetime
) -> Instance | None:
    """The live instance, locked, if it still is on `host` with no task under way,
    unchanged since `updated_before`."""
    return (
        Instance.objects.select_for_update()
        .filter(
            uuid=uuid,
            host=host,
            deleted=False,
            task_state__isnull=True,
            updated_at__lt=updated_before,
        )
        .first()
    )


def instances_building_stuck(*, updated_before: datetime, limit: int) -> list[uuidlib.UUID]:
    """The uuids of live instances building and unchanged since `updated_before`."""
    stuck = Instance.objects.filter(
        vm_state=VmState.BUILDING, deleted=False, updated_at__lt=updated_before
    ).values_list("uuid", flat=True)
    return list(stuck[:limit])


def instance_tasks_overdue(
    *, updated_before: datetime, limit: int
) -> list[tuple[uuidlib.UUID, str, datetime]]:
    """(uuid, task_state, updated_at) of live instances with a task (not a build)
    unchanged since `updated_before`, the longest unchanged first."""
    rows = (
        Instance.objects.filter(
            deleted=False, task_state__isnull=False, updated_at__lt=updated_before
        )
        .exclude(vm_state=VmState.BUILDING)
        .order_by("updated_at")
        .values_list("uuid", "task_state", "updated_at")
    )
    return list(rows[:limit])


def instances_idle_on_host(
    *, host: str, updated_before: datetime
) -> list[tuple[uuidlib.UUID, str, int]]:
    """(uuid, vm_state, power_state) of the host's live instances with no task under
    way, unchanged since `updated_before`."""
    rows = Instance.objects.filter(
        host=host, deleted=False, task_state__isnull=True, updated_at__lt=updated_before
    ).values_list("uuid", "vm_state", "power_state")
    return list(rows)


def instances_busy_on_host(*, host: str, updated_before: datetime) -> list[Instance]:
    """The host's live instances with a task under way, unchanged since `updated_before`."""
    return list(
        Instance.objects.filter(
            host=host, deleted=False, task_state__isnull=False, updated_at__lt=updated_before
        )
    )


def instance_action_request_id(
    *, instance_uuid: str | uuidlib.UUID, action: str, unfinished: bool = False
) -> str:
    """The request id of the instance's latest `action` (its latest unfinished one),
    or "" when there is none."""
    qs = InstanceAction.objects.filter(instance_uuid=instance_uuid, action=action)
    if unfinished:
        qs = qs.filter(finish_time__isnull=True)
    return qs.order_by("-start_time", "-id").values_list("request_id", flat=True).first() or ""


def request_spec_get(*, instance_uuid: str | uuidlib.UUID) -> RequestSpec | None:
    """The instance's request spec: what the scheduler must satisfy for it."""
    return RequestSpec.objects.filter(instance_uuid=instance_uuid).first()


def request_spec_locked(*, instance_uuid: str | uuidlib.UUID) -> RequestSpec | None:
    """The instance's request spec, locked for the caller's transaction."""
    return RequestSpec.objects.select_for_update().filter(instance_uuid=instance_uuid).first()


# --- Operator reads (the admin dashboard and /metrics), across every project ----------


def instance_counts_by_state() -> dict[str, int]:
    """Live instances per vm_state."""
    rows = Instance.objects.filter(deleted=False).values_list("vm_state").annotate(n=Count("id"))
    return dict(rows)


def instance_counts_by_project(*, limit: int = 10) -> list[tuple[str, int]]:
    """The projects with the most live instances, with their counts."""
    rows = (
        Instance.objects.filter(deleted=False)
        .values_list("project_id")
        .annotate(n=Count("id"))
        .order_by("-n", "project_id")[:limit]
    )
    return [(project, n) for project, n in rows]


def instances_in_transition(*, limit: int = 10) -> list[Instance]:
    """Live instances with a task_state, the longest unchanged first (the stuck ones)."""
    return list(
        Instance.objects.filter(deleted=False, task_state__isnull=False).order_by("updated_at")[
            :limit
        ]
    )


def actions_per_minute(*, action: str, since: datetime) -> list[tuple[datetime, int, int]]:
    """(minute, started, failed) of the actions named `action` started since `since`."""
    rows = (
        InstanceAction.objects.filter(action=action, start_time__gte=since)
        .annotate(minute=TruncMinute("start_time"))
        .values_list("minute")
        .annotate(n=Count("id"), failed=Count("id", filter=Q(message="Error")))
        .order_by("minute")
    )
    return [(minute, n, failed) for minute, n, failed in rows]


def faults_since(*, since: datetime, limit: int = 10) -> list[tuple[str, int, datetime]]:
    """(message, how many, latest) of the faults recorded since `since`, most frequent first."""
    rows = (
        InstanceFault.objects.filter(created_at__gte=since)
        .values_list("message")
        .annotate(n=Count("id"), latest=Max("created_at"))
        .order_by("-n", "-latest")[:limit]
    )
    return [(message, n, latest) for message, n, latest in rows]
