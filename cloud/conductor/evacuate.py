"""Conductor side of an evacuation: another host for a server whose host is down.

    schedule: the instance's allocation on the dead host moves to the migration
              (its consumer), and the scheduler claims the instance's flavor on
              another host (the dead one excluded; the admin's target host if one
              was named, which every filter still checks; an original forced host
              dropped, as Nova resets forced destinations for moves).
    rebuild:  the instance points at the new host and compute.rebuild_instance
              spawns it there (cloud.conductor.rebuild writes the outcome).
    end:      done, the migration's allocation on the dead host is freed: the
              instance holds the new host only. Failed, the same (the instance is
              on the new host, in ERROR with a fault).

No host found (or only hosts too old to rebuild) ends the evacuation in ERROR
with a fault, the instance back on its dead host holding its allocation there
(Nova's NoValidHost). Every step is written once: the instance and the
migration are locked and their states say whether it is still awaited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from cloud.conductor.services import migration_answered, migration_schedule
from cloud.instances import actions
from cloud.instances.choices import MigrationStatus as Status
from cloud.instances.lifecycle import instance_transition
from cloud.instances.migration_selectors import migration_evacuating_locked, migration_locked
from cloud.instances.rebuild import EVACUATE_EVENT, REBUILD_EVENT
from cloud.instances.services import instance_update, migration_update
from cloud.instances.specs import instance_spec
from cloud.instances.states import TaskState, VmState
from cloud.network.servers import server_ports_bind
from cloud.payloads import RebuildRequest, SchedulerAnswer
from cloud.placement.claims import allocations_delete, allocations_move
from cloud.rpc import cast_compute, host_too_old
from cloud.scheduler.groups import group_member_moved

if TYPE_CHECKING:
    from cloud.instances.models import Instance, Migration

# Nova's final status of a successful evacuation (a resize ends confirmed instead).
DONE = "done"


def _awaited(migration: Migration, instance: Instance, status: str) -> bool:
    return (
        not instance.deleted
        and migration.status == status
        and instance.task_state == TaskState.REBUILDING
    )


@transaction.atomic
def evacuate_schedule(*, migration_uuid: str, request_id: str) -> None:
    """Move the dead host's allocation to the migration; ask the scheduler for a host."""
    found = migration_locked(migration_uuid=migration_uuid)
    if found is None or not _awaited(*found, Status.PRE_MIGRATING):
        return
    migration, instance = found
    migration_schedule(
        instance=instance,
        migration_uuid=migration_uuid,
        request_id=request_id,
        overrides={
            "forced_host": migration.dest_compute,
            "ignore_hosts": [migration.source_compute],
        },
        answer_to="conductor.evacuate_scheduled",
    )


def _no_host(migration: Migration, instance: Instance, request_id: str, reason: str) -> None:
    uuid = str(instance.uuid)
    if not allocations_move(
        source=str(migration.uuid),
        target=uuid,
        project_id=instance.project_id,
        user_id=instance.user_id,
    ):
        allocations_delete(consumer_id=uuid)
    migration_update(migration=migration, status=Status.ERROR)
    instance_transition(instance=instance, step="evacuate:no_host")
    message = f"Cannot evacuate instance {uuid}: {reason}"[:255]
    actions.fault_record(
        instance_uuid=uuid, code=500, message=message, host=migration.source_compute
    )
    actions.finish(
        instance_uuid=uuid,
        request_id=request_id,
        event=EVACUATE_EVENT,
        host=None,
        result="Error",
        details=message,
        action_message="Error",
    )


@transaction.atomic
def evacuate_scheduled(*, selection: SchedulerAnswer) -> None:
    """The scheduler's answer: rebuild on the new host, or end the evacuation."""
    request_id = selection.request_id
    found = migration_answered(selection)
    if found is None:
        return
    migration, instance = found
    uuid = str(instance.uuid)
    if not _awaited(migration, instance, Status.PRE_MIGRATING):
        return
    host = selection.host
    error = selection.error or (host and host_too_old(host, RebuildRequest))
    if error:
        _no_host(migration, instance, request_id, error)
        return
    migration_update(
        migration=migration, dest_compute=host, dest_node=host, status=Status.MIGRATING
    )
    instance_update(instance=instance, host=host, node=host, progress=20)
    group_member_moved(instance_uuid=uuid, host=host)
    actions.event_finish(
        instance_uuid=uuid,
        request_id=request_id,
        event=EVACUATE_EVENT,
        host=host,
        result="Success",
        details=f"from {migration.source_compute} to {host}",
    )
    actions.event_start(instance_uuid=uuid, request_id=request_id, event=REBUILD_EVENT, host=host)
    # The ports follow the guest: the new host's agent wires them, the dead host's is
    # told to unwire them (done when it comes back).
    server_ports_bind(instance_uuid=uuid, host=host)
    cast_compute(
        host,
        "compute.rebuild_instance",
        RebuildRequest(
            instance=instance_spec(instance).to_dict(),
            request_id=request_id,
            action="evacuate",
            task_state=TaskState.REBUILDING,
            stopped=migration.old_vm_state == VmState.STOPPED,
        ),
    )


def evacuation_end(*, instance_uuid: str, done: bool) -> None:
    """The rebuild on the new host is over: free what the migration holds on the dead
    host, in the caller's transaction (which holds the instance's lock)."""
    migration = migration_evacuating_locked(instance_uuid=instance_uuid)
    if migration is None:
        return
    allocations_delete(consumer_id=str(migration.uuid))
    migration_update(migration=migration, status=DONE if done else Status.ERROR)
