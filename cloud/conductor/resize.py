"""Conductor side of a resize: the destination, the compute steps in turn, confirm,
revert and auto-confirm (Nova's MigrationTask and the compute hand-offs).

    resize:  the instance's source allocation moves to the migration (its
             consumer), the scheduler claims the new flavor for the instance on
             a destination (not the source unless ALLOW_RESIZE_TO_SAME_HOST), then
             compute.resize_instance on the source stops the guest and
             compute.finish_resize on the destination defines and starts it with
             the new flavor: resized (VERIFY_RESIZE), both allocations held.
    confirm: compute.confirm_resize removes the guest from the source, then the
             migration's allocation is freed.
    revert:  compute.revert_resize removes the guest from the destination,
             compute.finish_revert_resize starts it on the source with the old
             flavor, and the instance takes the migration's source allocation
             back in place of the destination's.

The root disk moves with the guest (Nova copies it host to host over ssh; Stratus's
hosts share no credentials with each other, so it goes through the image service,
which every host already reaches with a short-lived token): for a destination
other than the source, resize_instance uploads a flattened copy of the stopped
guest's disk to a temporary hidden image, finish_resize fetches it as the guest's
root disk there, and the image is deleted when the resize is resized or ended.

Every outcome is written once: the instance and the migration are locked, and the
migration's status, the instance's task_state and the step's open event say
whether it is still awaited, so a redelivered message changes nothing. A failed
step ends in ERROR with a fault, and nothing stays claimed that nothing uses.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cloud.conductor.services import migration_answered, migration_schedule
from cloud.hosts.selectors import host_up
from cloud.images.boot import (
    image_disk_move_create,
    image_disk_move_delete,
    image_disk_move_spec,
    image_upload_fields,
)
from cloud.instances import actions
from cloud.instances.choices import MigrationStatus as Status
from cloud.instances.lifecycle import instance_transition
from cloud.instances.migration_selectors import migration_locked, migrations_unconfirmed
from cloud.instances.resize import flavor_size, migration_confirm_start
from cloud.instances.services import (
    flavor_resources,
    instance_update,
    migration_update,
    request_spec_flavor_set,
)
from cloud.instances.specs import instance_spec
from cloud.instances.states import TaskState, VmState
from cloud.network.servers import server_ports_bind
from cloud.payloads import MigrationRequest, MigrationResult, SchedulerAnswer, TerminateRequest
from cloud.placement.claims import allocations_delete, allocations_move
from cloud.rpc import cast_compute, host_too_old
from cloud.scheduler.groups import group_member_moved

if TYPE_CHECKING:
    from cloud.instances.models import Instance, Migration

SCHEDULE_EVENT = "conductor_migrate_server"
# The payload version whose hosts carry a guest's root disk to another host.
DISK_MOVES_SINCE = "1.7"

# compute step -> (migration status, instance task_state) while its outcome is awaited
AWAITED: dict[str, tuple[str, str | None]] = {
    "resize_instance": (Status.MIGRATING, TaskState.RESIZE_MIGRATING),
    "finish_resize": (Status.MIGRATING, TaskState.RESIZE_FINISH),
    "confirm_resize": (Status.CONFIRMING, None),
    "revert_resize": (Status.REVERTING, TaskState.RESIZE_REVERTING),
    "finish_revert_resize": (Status.REVERTING, TaskState.RESIZE_REVERTING),
}
# compute step -> the action a failure of it ends (`<action>:failed` in the state machine)
ACTION = {
    "resize_instance": "resize",
    "finish_resize": "resize",
    "revert_resize": "revert_resize",
    "finish_revert_resize": "revert_resize",
}
WHAT = {
    "resize_instance": "stop the guest on the source host",
    "finish_resize": "start the guest with the new flavor",
    "confirm_resize": "remove the guest from the source host",
    "revert_resize": "remove the guest from the destination host",
    "finish_revert_resize": "start the guest again with the old flavor",
}


def _event(step: str) -> str:
    return f"compute_{step}"


def _moves_disk(migration: Migration) -> bool:
    return migration.dest_compute not in (None, "", migration.source_compute)


def _disk_move(migration: Migration, instance: Instance, step: str) -> dict:
    """What the step needs to carry the root disk to another host: where the source
    uploads it, and the copy the destination fetches."""
    if not _moves_disk(migration):
        return {}
    uuid = str(migration.uuid)
    if step == "resize_instance":
        image_id = image_disk_move_create(migration_uuid=uuid, instance_uuid=str(instance.uuid))
        return {"disk_upload": image_upload_fields(image_id=image_id)}
    if step == "finish_resize":
        return {"disk_image": image_disk_move_spec(migration_uuid=uuid)}
    return {}


def _cast_step(
    migration: Migration, instance: Instance, step: str, host: str, request_id: str
) -> None:
    """Cast the next compute step: the guest as that host must define it (the new flavor
    on the destination, the old one back on the source), or only its uuid; with the
    disk's way to another host (`_disk_move`)."""
    flavor = {"finish_resize": migration.new_flavor, "finish_revert_resize": migration.old_flavor}
    spec = {}
    if step in flavor:
        # The guest is defined on `host` now: its ports are bound there (its agent wires
        # them, the other host's unwires them).
        server_ports_bind(instance_uuid=str(instance.uuid), host=host)
        base = instance_spec(instance)
        spec = replace(base, flavor={k: flavor[step][k] for k in base.flavor}).to_dict()
    actions.event_start(
        instance_uuid=str(instance.uuid), request_id=request_id, event=_event(step), host=host
    )
    cast_compute(
        host,
        f"compute.{step}",
        MigrationRequest(
            migration_uuid=str(migration.uuid),
            instance_uuid=str(instance.uuid),
            request_id=request_id,
            instance=spec,
            power_on=migration.old_vm_state != VmState.STOPPED,
            **_disk_move(migration, instance, step),
        ),
    )


def _back_to_source(
    migration: Migration,
    instance: Instance,
    step: str,
    vm_state: str,
    power_state: int | None = None,
) -> None:
    """The instance on its source host with its old flavor, holding the source
    allocation again (in place of any on the destination), as `step` leaves it; the
    migration over."""
    uuid = str(instance.uuid)
    if not allocations_move(
        source=str(migration.uuid),
        target=uuid,
        project_id=instance.project_id,
        user_id=instance.user_id,
    ):
        allocations_delete(consumer_id=uuid)  # it held nothing to go back to
    group_member_moved(instance_uuid=uuid, host=migration.source_compute)
    server_ports_bind(instance_uuid=uuid, host=migration.source_compute)
    instance_transition(
        instance=instance,
        step=step,
        vm_state=vm_state,
        power_state=power_state,
        values={
            "host": migration.source_compute,
            "node": migration.source_node,
            "flavor": migration.old_flavor,
            **flavor_size(migration.old_flavor),
        },
    )


def _failed(
    migration: Migration,
    instance: Instance,
    *,
    request_id: str,
    event: str,
    host: str | None,
    message: str,
    details: str = "",
    step: str,
    vm_state: str,
) -> None:
    _back_to_source(migration, instance, step, vm_state)
    migration_update(migration=migration, status=Status.ERROR)
    image_disk_move_delete(migration_uuid=str(migration.uuid))
    uuid = str(instance.uuid)
    actions.fault_record(instance_uuid=uuid, code=500, message=message, details=details, host=host)
    actions.finish(
        instance_uuid=uuid,
        request_id=request_id,
        event=event,
        host=host,
        result="Error",
        traceback=details or None,
        details=message,
        action_message="Error",
    )


# -- resize ---------------------------------------------------------------------


@transaction.atomic
def resize_schedule(*, migration_uuid: str, request_id: str) -> None:
    """Move the source allocation to the migration and ask the scheduler for a
    destination; its answer goes to `conductor.resize_scheduled`."""
    found = migration_locked(migration_uuid=migration_uuid)
    if found is None:
        return
    migration, instance = found
    if (
        instance.deleted
        or migration.status != Status.PRE_MIGRATING
        or instance.task_state != TaskState.RESIZE_PREP
    ):
        return
    uuid = str(instance.uuid)
    if not actions.event_open(instance_uuid=uuid, request_id=request_id, event=SCHEDULE_EVENT):
        actions.event_start(
            instance_uuid=uuid, request_id=request_id, event=SCHEDULE_EVENT, host=None
        )
    new = migration.new_flavor
    migration_schedule(
        instance=instance,
        migration_uuid=migration_uuid,
        request_id=request_id,
        overrides={
            "resources": flavor_resources(new),
            "flavor_extra_specs": dict(new.get("extra_specs") or {}),
            "forced_host": None,
            "ignore_hosts": (
                [] if settings.ALLOW_RESIZE_TO_SAME_HOST else [migration.source_compute]
            ),
        },
        answer_to="conductor.resize_scheduled",
    )


@transaction.atomic
def resize_scheduled(*, selection: SchedulerAnswer) -> None:
    """The scheduler's answer: stop the guest on the source, or end the resize (the
    server stays as it was, with a fault, as after Nova's NoValidHost)."""
    request_id = selection.request_id
    found = migration_answered(selection)
    if found is None:
        return
    migration, instance = found
    uuid = str(instance.uuid)
    if migration.status != Status.PRE_MIGRATING or instance.task_state != TaskState.RESIZE_PREP:
        return
    host = selection.host
    error = selection.error or (host and host_too_old(host, MigrationRequest))
    if not error and host and host != migration.source_compute:
        # Carrying the disk to another host needs both ends to speak 1.7.
        error = host_too_old(host, MigrationRequest, needs=DISK_MOVES_SINCE) or host_too_old(
            migration.source_compute, MigrationRequest, needs=DISK_MOVES_SINCE
        )
    if error:
        _failed(
            migration,
            instance,
            request_id=request_id,
            event=SCHEDULE_EVENT,
            host=None,
            message=f"Cannot resize instance {uuid}: {error}"[:255],
            step="resize:failed",
            vm_state=migration.old_vm_state,
        )
        return
    migration_update(
        migration=migration, dest_compute=host, dest_node=host, status=Status.MIGRATING
    )
    instance_transition(instance=instance, step="resize:resize_migrating", values={"progress": 20})
    actions.event_finish(
        instance_uuid=uuid,
        request_id=request_id,
        event=SCHEDULE_EVENT,
        host=host,
        result="Success",
        details=f"destination {host}",
    )
    _cast_step(migration, instance, "resize_instance", migration.source_compute, request_id)


def _source_stopped(migration: Migration, instance: Instance, result: MigrationResult) -> None:
    instance_transition(instance=instance, step="resize:resize_finish", values={"progress": 60})
    _cast_step(migration, instance, "finish_resize", migration.dest_compute, result.request_id)


def _resized(migration: Migration, instance: Instance, result: MigrationResult) -> None:
    migration_update(migration=migration, status=Status.FINISHED)
    image_disk_move_delete(migration_uuid=str(migration.uuid))
    instance_transition(
        instance=instance,
        step="resize:done",
        power_state=result.power_state,
        values={
            "host": migration.dest_compute,
            "node": migration.dest_node,
            "flavor": migration.new_flavor,
            "progress": 100,
        },
    )
    actions.action_finish(instance_uuid=str(instance.uuid), request_id=result.request_id)


# -- confirm ----------------------------------------------------------------------


def _confirmed(migration: Migration, instance: Instance, request_id: str) -> None:
    """The new flavor kept: the source allocation freed, quota counting the new flavor."""
    allocations_delete(consumer_id=str(migration.uuid))
    migration_update(migration=migration, status=Status.CONFIRMED)
    instance_transition(
        instance=instance, step="confirm_resize:done", vm_state=migration.old_vm_state
    )
    instance_update(instance=instance, **flavor_size(migration.new_flavor))
    request_spec_flavor_set(instance_uuid=instance.uuid, flavor=migration.new_flavor)
    actions.action_finish(instance_uuid=str(instance.uuid), request_id=request_id)


@transaction.atomic
def resize_confirm(*, migration_uuid: str, request_id: str) -> None:
    """Remove the guest from the source; with no guest to remove there (a resize on one
    host) or the source down (its leftover is reported when it comes back), at once."""
    found = migration_locked(migration_uuid=migration_uuid)
    if found is None:
        return
    migration, instance = found
    step = "confirm_resize"
    if instance.deleted or migration.status != Status.CONFIRMING:
        return
    if actions.event_open(
        instance_uuid=str(instance.uuid), request_id=request_id, event=_event(step)
    ):
        return
    source = migration.source_compute
    if source == migration.dest_compute or not host_up(host=source):
        _confirmed(migration, instance, request_id)
        return
    _cast_step(migration, instance, step, source, request_id)


def resizes_confirm_due(*, window_seconds: int) -> int:
    """Confirm the resizes left unconfirmed for longer than the window (Nova's
    resize_confirm_window); 0 or less turns it off."""
    if window_seconds <= 0:
        return 0
    cutoff = timezone.now() - timedelta(seconds=window_seconds)
    confirmed = 0
    for migration_uuid in migrations_unconfirmed(updated_before=cutoff, limit=500):
        with transaction.atomic():
            found = migration_locked(migration_uuid=str(migration_uuid))
            if found is None:
                continue
            migration, instance = found
            if (
                instance.deleted
                or migration.status != Status.FINISHED
                or instance.vm_state != VmState.RESIZED
                or instance.task_state is not None
            ):
                continue
            request_id = f"req-{uuidlib.uuid4()}"
            migration_confirm_start(
                instance=instance,
                request_id=request_id,
                user_id="",
                project_id=instance.project_id,
            )
            resize_confirm(migration_uuid=str(migration_uuid), request_id=request_id)
            confirmed += 1
    return confirmed


# -- revert -----------------------------------------------------------------------


@transaction.atomic
def resize_revert(*, migration_uuid: str, request_id: str) -> None:
    """Remove the guest from the destination (unless that is the source, or is down:
    its leftover is reported when it comes back), then start it on the source."""
    found = migration_locked(migration_uuid=migration_uuid)
    if found is None:
        return
    migration, instance = found
    if (
        instance.deleted
        or migration.status != Status.REVERTING
        or instance.task_state != TaskState.RESIZE_REVERTING
    ):
        return
    source, dest = migration.source_compute, migration.dest_compute
    step = "revert_resize" if dest != source and host_up(host=dest) else "finish_revert_resize"
    if actions.event_open(
        instance_uuid=str(instance.uuid), request_id=request_id, event=_event(step)
    ):
        return
    _cast_step(migration, instance, step, dest if step == "revert_resize" else source, request_id)


def _dest_removed(migration: Migration, instance: Instance, result: MigrationResult) -> None:
    _cast_step(
        migration, instance, "finish_revert_resize", migration.source_compute, result.request_id
    )


def _reverted(migration: Migration, instance: Instance, result: MigrationResult) -> None:
    _back_to_source(
        migration, instance, "revert_resize:done", migration.old_vm_state, result.power_state
    )
    migration_update(migration=migration, status=Status.REVERTED)
    actions.action_finish(instance_uuid=str(instance.uuid), request_id=result.request_id)


# -- compute outcomes ---------------------------------------------------------------

NEXT = {
    "resize_instance": _source_stopped,
    "finish_resize": _resized,
    "confirm_resize": lambda m, i, r: _confirmed(m, i, r.request_id),
    "revert_resize": _dest_removed,
    "finish_revert_resize": _reverted,
}


def _awaited(result: MigrationResult) -> tuple[Migration, Instance] | None:
    """The locked migration and instance when this outcome is still awaited. A guest
    defined for an instance deleted meanwhile is removed again."""
    found = migration_locked(migration_uuid=result.migration_uuid)
    if found is None:
        return None
    migration, instance = found
    if instance.deleted:
        if result.step in ("finish_resize", "finish_revert_resize"):
            cast_compute(
                result.host,
                "compute.terminate_instance",
                TerminateRequest(
                    instance_uuid=result.instance_uuid,
                    name=instance.domain_name,
                    request_id=result.request_id,
                ),
            )
        return None
    if (migration.status, instance.task_state) != AWAITED[result.step]:
        return None
    if not actions.event_open(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=_event(result.step),
    ):
        return None
    return migration, instance


@transaction.atomic
def migration_step_done(*, result: MigrationResult) -> None:
    found = _awaited(result)
    if found is None:
        return
    migration, instance = found
    actions.event_finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=_event(result.step),
        host=result.host,
        result="Success",
    )
    NEXT[result.step](migration, instance, result)


@transaction.atomic
def migration_step_failed(*, result: MigrationResult) -> None:
    """ERROR with a fault naming the step and the host. The instance goes back to its
    source allocation and old flavor, except when only the source's cleanup failed
    after a confirm: it keeps the new flavor on the destination, the source freed."""
    found = _awaited(result)
    if found is None:
        return
    migration, instance = found
    message = f"Could not {WHAT[result.step]} ({result.host}): {result.message}"[:255]
    if result.step != "confirm_resize":
        _failed(
            migration,
            instance,
            request_id=result.request_id,
            event=_event(result.step),
            host=result.host,
            message=message,
            details=result.details,
            step=f"{ACTION[result.step]}:failed",
            vm_state=VmState.ERROR,
        )
        return
    _confirmed(migration, instance, result.request_id)
    migration_update(migration=migration, status=Status.ERROR)
    instance_transition(instance=instance, step="confirm_resize:failed")
    uuid = str(instance.uuid)
    actions.fault_record(
        instance_uuid=uuid, code=500, message=message, details=result.details, host=result.host
    )
    actions.finish(
        instance_uuid=uuid,
        request_id=result.request_id,
        event=_event(result.step),
        host=result.host,
        result="Error",
        traceback=result.details or None,
        details=result.message,
        action_message="Error",
    )
