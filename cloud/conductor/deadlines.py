"""Deadlines of instance tasks, on by default (beat runs `conductor.reap_stuck_builds`).

A build unfinished after BUILD_TIMEOUT goes to ERROR and frees its claim
(`services.builds_reap_stuck`); any other task_state unchanged for longer than its
step's deadline (TASK_DEADLINES, else TASK_DEADLINE_DEFAULT) is ended as Nova leaves
that action when it fails (`states.DEADLINE_KEEPS_VM_STATE`: back to its vm_state,
else ERROR), with a fault naming the step and the host, and the action's open
events finished in error so `server event show` says the same. The clock is the
instance's `updated_at`: a host that reports progress keeps its task alive.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cloud.conductor.services import builds_reap_stuck
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.models import Instance, InstanceAction
from cloud.instances.states import DEADLINE_KEEPS_VM_STATE, VmState

log = logging.getLogger(__name__)

BATCH = 500


def _open_action_fail(instance_uuid: str, host: str | None, message: str) -> None:
    """Finish the instance's unfinished action, and its open events, in error."""
    action = (
        InstanceAction.objects.filter(instance_uuid=instance_uuid, finish_time__isnull=True)
        .order_by("-start_time", "-id")
        .first()
    )
    if action is None:
        return
    for event in action.events.filter(finish_time__isnull=True).values_list("event", flat=True):
        actions.event_finish(
            instance_uuid=instance_uuid,
            request_id=action.request_id,
            event=event,
            host=host,
            result="Error",
            details=message,
        )
    actions.action_finish(
        instance_uuid=instance_uuid, request_id=action.request_id, message="Error"
    )


@transaction.atomic
def _task_expire(uuid, task_state: str, seconds: int, cutoff: datetime) -> bool:
    instance = (
        Instance.objects.select_for_update()
        .filter(uuid=uuid, deleted=False, task_state=task_state, updated_at__lt=cutoff)
        .exclude(vm_state=VmState.BUILDING)
        .first()
    )
    if instance is None:
        return False
    keeps = task_state in DEADLINE_KEEPS_VM_STATE
    vm_state = instance.vm_state if keeps else VmState.ERROR
    instance_transition(instance=instance, step="task_expired" if keeps else "task_expired_error")
    where = f" on {instance.host}" if instance.host else ""
    message = f"Task '{task_state}' timed out after {seconds}s{where}; " + (
        f"the server was left {vm_state}." if keeps else "the server is in ERROR."
    )
    log.warning("instance %s: %s", uuid, message)
    actions.fault_record(instance_uuid=str(uuid), code=500, message=message, host=instance.host)
    _open_action_fail(str(uuid), instance.host, message)
    return True


def deadlines_reap(*, build_timeout: int, deadlines: dict[str, int], default: int) -> int:
    """End the builds and tasks past their deadlines; returns how many were ended."""
    reaped = builds_reap_stuck(timeout_seconds=build_timeout)
    now = timezone.now()
    shortest = min([default, *deadlines.values()])
    candidates = (
        Instance.objects.filter(
            deleted=False,
            task_state__isnull=False,
            updated_at__lt=now - timedelta(seconds=shortest),
        )
        .exclude(vm_state=VmState.BUILDING)
        .order_by("updated_at")
        .values_list("uuid", "task_state", "updated_at")
    )
    for uuid, task_state, updated_at in list(candidates[:BATCH]):
        seconds = deadlines.get(task_state, default)
        cutoff = now - timedelta(seconds=seconds)
        if updated_at < cutoff and _task_expire(uuid, task_state, seconds, cutoff):
            reaped += 1
    return reaped
