"""What the scheduler is asked about an instance: its request spec and instance resolved
into a SchedulingRequest (the hosts of the instances its hints and server group name:
the scheduler reads no instance), and the ask itself, whose answer goes to a conductor
task.

A new server is asked about by the api in its create's transaction (on commit), one
hop before the conductor, which Nova's conductor would make; a reschedule and a move
are asked about by the conductor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from cloud.instances.selectors import instance_hosts, instances_live
from cloud.payloads import SchedulingRequest
from cloud.rpc import scheduler_select, scheduler_select_batch
from cloud.scheduler.selectors import server_group_placed_members

if TYPE_CHECKING:
    from cloud.instances.models import Instance, RequestSpec

SCHEDULE_EVENT = "conductor_schedule_and_build_instances"


def group_hosts(*, group_uuid: str, instance_uuid: str) -> dict[str, int]:
    """Hosts of the group's other placed members whose instance is not deleted, with how
    many members each holds: the scheduler's starting view of the group's policy."""
    placed = server_group_placed_members(group_uuid=group_uuid)
    live = instances_live(uuids=[uuid for uuid in placed if uuid != instance_uuid])
    counts: dict[str, int] = {}
    for uuid in live:
        counts[placed[uuid]] = counts.get(placed[uuid], 0) + 1
    return counts


def scheduling_request(spec: RequestSpec, instance: Instance) -> SchedulingRequest:
    """What the scheduler needs to decide for this instance, with the hosts of the
    instances the hints and the server group name resolved (it never reads instances)."""
    same_host = list(spec.hints.get("same_host", []))
    different_host = list(spec.hints.get("different_host", []))
    group_uuid = str(spec.group_uuid) if spec.group_uuid else None
    return SchedulingRequest(
        instance_uuid=str(spec.instance_uuid),
        project_id=spec.project_id,
        user_id=spec.user_id,
        resources=spec.resources,
        availability_zone=spec.availability_zone,
        forced_host=spec.forced_host,
        flavor_extra_specs=dict(instance.flavor.get("extra_specs") or {}),
        image_properties=dict(instance.image_meta.get("properties") or {}),
        group_uuid=group_uuid,
        same_host=same_host,
        different_host=different_host,
        query=spec.hints.get("query", ""),
        ignore_hosts=list(spec.ignore_hosts),
        same_host_hosts=instance_hosts(uuids=same_host),
        different_host_hosts=instance_hosts(uuids=different_host),
        group_hosts=(
            group_hosts(group_uuid=group_uuid, instance_uuid=str(spec.instance_uuid))
            if group_uuid
            else None
        ),
    )


def instances_ask_scheduler(
    specs: list[tuple[RequestSpec, Instance]],
    request_id: str,
    *,
    undo: Callable[[], None] | None = None,
) -> None:
    """Ask the scheduler (on commit), then hand its answer to `conductor.schedule_done`;
    the instances of one request go together (one candidate scan, one claim). `undo`
    takes the create back when the broker stays away (rpc.cast_conductor)."""
    requests = [
        replace(
            scheduling_request(spec, instance), attempt=spec.num_attempts, request_id=request_id
        )
        for spec, instance in specs
    ]
    if len(requests) == 1:
        scheduler_select(requests[0], answer_to="conductor.schedule_done", undo=undo)
    else:
        scheduler_select_batch(requests, answer_to="conductor.schedule_done_batch", undo=undo)
