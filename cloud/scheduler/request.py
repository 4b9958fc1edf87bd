"""What one scheduling decision must satisfy, and the lookups its filters share.

`SchedulingRequest` is built from the request spec the API wrote (a plain,
serialisable record); `Scheduling` adds what filters and weighers look up
once per decision (the server group's member hosts, the hosts named by
scheduler hints), so no filter queries per host.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Exists, OuterRef

from cloud.instances.models import Instance
from cloud.scheduler.models import ServerGroup, ServerGroupMember


@dataclass(frozen=True)
class SchedulingRequest:
    instance_uuid: str
    project_id: str
    resources: dict[str, int]
    user_id: str = ""
    availability_zone: str | None = None
    forced_host: str | None = None
    flavor_extra_specs: dict[str, str] = field(default_factory=dict)
    image_properties: dict[str, str] = field(default_factory=dict)
    group_uuid: str | None = None
    same_host: list[str] = field(default_factory=list)
    different_host: list[str] = field(default_factory=list)
    ignore_hosts: list[str] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: dict) -> "SchedulingRequest":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in spec.items() if k in known})


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
        for rc, amount in resources.items():
            if not amount:
                continue
            if self.free.get(rc, 0) < amount:
                return False
            low, high, step = self.limits.get(rc, (1, amount, 1))
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
        """Hosts of the group's other placed members, with how many members each holds."""
        if self.group is None:
            return {}
        return member_hosts(self.group, exclude=[self.request.instance_uuid])

    @cached_property
    def hint_hosts(self) -> dict[str, set[str]]:
        """Hosts of the instances named by the same_host / different_host hints."""
        return {
            hint: set(
                Instance.objects.filter(
                    uuid__in=uuids, deleted=False, host__isnull=False
                ).values_list("host", flat=True)
            )
            for hint, uuids in (
                ("same_host", self.request.same_host),
                ("different_host", self.request.different_host),
            )
        }


def member_hosts(group: ServerGroup, exclude: Collection[str] = ()) -> dict[str, int]:
    """Hosts of the group's placed members but those excluded (the instances being
    decided), with how many members each holds."""
    return groups_member_hosts([group], exclude)[group.pk]


def groups_member_hosts(
    groups: Collection[ServerGroup], exclude: Collection[str] = ()
) -> dict[int, dict[str, int]]:
    """member_hosts of several groups (by primary key), in one query; a deleted instance
    no longer holds its host."""
    counts: dict[int, dict[str, int]] = {group.pk: {} for group in groups}
    deleted = Instance.objects.filter(uuid=OuterRef("instance_uuid"), deleted=True)
    members = ServerGroupMember.objects.filter(
        ~Exists(deleted), group_id__in=list(counts), host__isnull=False
    )
    # Excluded here rather than in SQL: the statement stays the same for every pass.
    excluded = {str(uuid) for uuid in exclude}
    for group_id, host, uuid in members.values_list("group_id", "host", "instance_uuid"):
        if str(uuid) not in excluded:
            counts[group_id][host] = counts[group_id].get(host, 0) + 1
    return counts
