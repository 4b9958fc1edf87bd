"""What one scheduling decision must satisfy, and the lookups its filters share.

`SchedulingRequest` (cloud.payloads) is the message the conductor builds from the
request spec the API wrote, with what the scheduler needs about instances
resolved: the hosts named by the scheduler hints and those of the server group's
other members (the scheduler never reads instances). `Scheduling` adds what
filters and weighers look up once per decision (the server group), so no filter
queries per host. The group's member hosts are read from the scheduler's own
membership table when the request did not bring them (a 1.5 request), for a pass
(cloud.scheduler.services._load_groups) and for the re-check under the group's
lock; a deleted instance has left its group (instance_mark_deleted), and a
membership its claim wrote after the delete is removed by conductor.schedule_done.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection

from cloud.api.parsing import uuid_or_none
from cloud.payloads import SchedulingRequest
from cloud.scheduler.models import ServerGroup, ServerGroupMember

__all__ = ["HostState", "Scheduling", "SchedulingRequest"]


@dataclass(frozen=True)
class HostState:
    """One candidate host as filters and weighers see it."""

    provider_id: int
    name: str
    free: dict[str, int]
    capacity: dict[str, int]
    zone: str
    hypervisor_type: str
    architecture: str | None
    failed_builds: int
    # Each class's (min_unit, max_unit, step_size), when the candidate scan read them.
    limits: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def fits(self, resources: dict[str, int]) -> bool:
        """Whether the host has room for these amounts, within its unit limits."""
        free, limits = self.free, self.limits
        for rc, amount in resources.items():
            if not amount:
                continue
            if free.get(rc, 0) < amount:
                return False
            if rc in limits:
                low, high, step = limits[rc]
                if not low <= amount <= high or amount % step:
                    return False
        return True


class Scheduling:
    """A request plus its once-per-decision lookups."""

    def __init__(self, request: SchedulingRequest) -> None:
        self.request = request

    @cached_property
    def group(self) -> ServerGroup | None:
        if not self.request.group_uuid:
            return None
        return ServerGroup.objects.filter(uuid=self.request.group_uuid).first()

    @cached_property
    def group_hosts(self) -> dict[str, int]:
        """Hosts of the group's other placed members, with how many members each holds:
        as the conductor resolved them, else from the membership table."""
        if self.group is None:
            return {}
        if self.request.group_hosts is not None:
            return dict(self.request.group_hosts)
        return member_hosts(self.group, exclude=[self.request.instance_uuid])

    @cached_property
    def hint_hosts(self) -> dict[str, set[str]]:
        """Hosts of the instances named by the same_host / different_host hints (resolved
        by the conductor)."""
        return {
            "same_host": set(self.request.same_host_hosts),
            "different_host": set(self.request.different_host_hosts),
        }


def member_hosts(group: ServerGroup, exclude: Collection[str] = ()) -> dict[str, int]:
    """Hosts of the group's placed members but those excluded (the instances being
    decided), with how many members each holds."""
    return groups_member_hosts([group], exclude)[group.pk]


_MEMBER_HOSTS = """
SELECT m.group_id, m.host, m.instance_uuid FROM {member} m
WHERE m.group_id IN ({groups}) AND m.host IS NOT NULL
"""


def groups_member_hosts(
    groups: Collection[ServerGroup], exclude: Collection[str] = ()
) -> dict[int, dict[str, int]]:
    """member_hosts of several groups (by primary key), in one query. Plain SQL: the
    scheduler asks this on every pass."""
    counts: dict[int, dict[str, int]] = {group.pk: {} for group in groups}
    if not counts:
        return counts
    sql = _MEMBER_HOSTS.format(
        member=ServerGroupMember._meta.db_table,
        groups=", ".join(["%s"] * len(counts)),
    )
    excluded = {canonical_uuid(uuid) for uuid in exclude}
    with connection.cursor() as cursor:
        cursor.execute(sql, list(counts))
        for group_id, host, uuid in cursor.fetchall():
            if canonical_uuid(uuid) not in excluded:
                counts[group_id][host] = counts[group_id].get(host, 0) + 1
    return counts


def canonical_uuid(value: object) -> str | None:
    """One spelling of a UUID, however it was written or the database returns it; None
    for what is no UUID."""
    found = uuid_or_none(str(value))
    return str(found) if found is not None else None
