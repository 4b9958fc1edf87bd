"""Deadlines of instance tasks, on by default (beat runs `conductor.reap_stuck_builds`).

A build unfinished after BUILD_TIMEOUT goes to ERROR and frees its claim
(`services.builds_reap_stuck`); any other task_state unchanged for longer than its
step's deadline (TASK_DEADLINES, else TASK_DEADLINE_DEFAULT) is ended as Nova leaves
that action when it fails (`states.DEADLINE_KEEPS_VM_STATE`: back to its vm_state,
else ERROR), with a fault naming the step and the host, and the action's open
events finished in error so `server event show` says the same. The clock is the
instance's `updated_at`: a host that reports progress keeps its task alive.
Volume work past VOLUME_TASK_DEADLINE is ended too (cloud/conductor/volumes.py).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cloud.conductor.services import builds_reap_stuck
from cloud.conductor.volumes import volumes_reap
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.selectors import instance_task_overdue_locked, instance_tasks_overdue
from cloud.instances.states import DEADLINE_KEEPS_VM_STATE, VmState

log = logging.getLogger(__name__)

BATCH = 500


@transaction.atomic
def _task_expire(uuid, task_state: str, seconds: int, cutoff: datetime) -> bool:
    instance = instance_task_overdue_locked(uuid=uuid, task_state=task_state, updated_before=cutoff)
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
    actions.action_open_fail(instance_uuid=str(uuid), host=instance.host, message=message)
    return True


def deadlines_reap(*, build_timeout: int, deadlines: dict[str, int], default: int) -> int:
    """End the builds and tasks past their deadlines; returns how many were ended."""
    reaped = builds_reap_stuck(timeout_seconds=build_timeout)
    reaped += volumes_reap(deadline=settings.VOLUME_TASK_DEADLINE)
    now = timezone.now()
    shortest = min([default, *deadlines.values()])
    candidates = instance_tasks_overdue(
        updated_before=now - timedelta(seconds=shortest), limit=BATCH
    )
    for uuid, task_state, updated_at in candidates:
        seconds = deadlines.get(task_state, default)
        cutoff = now - timedelta(seconds=seconds)
        if updated_at < cutoff and _task_expire(uuid, task_state, seconds, cutoff):
            reaped += 1
    return reaped
