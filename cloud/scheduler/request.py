"""What one scheduling decision must satisfy, and the lookups its filters share.

`SchedulingRequest` is built from the request spec the API wrote (a plain,
serialisable record); `Scheduling` adds what filters and weighers look up
once per decision (the server group's member hosts, the hosts named by
scheduler hints), so no filter queries per host.
"""

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
        return member_hosts(self.group, exclude=self.request.instance_uuid)

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


def member_hosts(group: ServerGroup, exclude: str | None = None) -> dict[str, int]:
    """Hosts of the group's placed members; a deleted instance no longer holds its host."""
    counts: dict[str, int] = {}
    deleted = Instance.objects.filter(uuid=OuterRef("instance_uuid"), deleted=True)
    members = ServerGroupMember.objects.filter(~Exists(deleted), group=group, host__isnull=False)
    if exclude:
        members = members.exclude(instance_uuid=exclude)
    for host in members.values_list("host", flat=True):
        counts[host] = counts.get(host, 0) + 1
    return counts
