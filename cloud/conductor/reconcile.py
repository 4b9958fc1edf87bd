"""A compute worker (re)started (`conductor.compute_started`): reconcile its host.

The host's report is recorded as a heartbeat, its guests' power states are synced
(cloud.conductor.power_sync, which also reports guests that are no instance), and
the instances the host owns that were mid-operation are sent back to it in one
`compute.reconcile` cast: builds it was spawning, server actions it was doing,
deletes it was carrying out. The host finishes each (libvirt shows it done, or the
step is safe to redo) or fails it, and reports through the tasks the original work
reports through, so every outcome is written by the usual idempotent services. A
task_state the host cannot finish (a resize, a rebuild, a snapshot) is left to its
deadline (cloud.conductor.deadlines).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from cloud.conductor.power_sync import host_time, power_states_sync
from cloud.conductor.services import compute_heartbeat
from cloud.instances.selectors import (
    instance_action_request_id,
    instances_busy_on_host,
    request_spec_get,
)
from cloud.instances.server_actions import HOST_ACTIONS
from cloud.instances.specs import instance_spec
from cloud.instances.states import TRANSITIONS, TaskState, VmState
from cloud.payloads import (
    ActionRequest,
    BuildRequest,
    ComputeStarted,
    ReconcileRequest,
    TerminateRequest,
)
from cloud.rpc import cast_compute

if TYPE_CHECKING:
    from cloud.instances.models import Instance

log = logging.getLogger(__name__)

# The actions compute.reconcile knows how to finish, by the task_state each sets.
RECONCILED_ACTIONS = (
    "reboot",
    "reboot_hard",
    "stop",
    "start",
    "pause",
    "unpause",
    "suspend",
    "resume",
)
_ACTION_OF_TASK = {TRANSITIONS[a].task_state: a for a in RECONCILED_ACTIONS}


def _open_request_id(instance: Instance, action: str) -> str:
    """The request of the instance's unfinished `action` (its outcome is awaited)."""
    return instance_action_request_id(instance_uuid=instance.uuid, action=action, unfinished=True)


def _build(instance: Instance) -> dict:
    spec = request_spec_get(instance_uuid=instance.uuid)
    return BuildRequest(
        instance=instance_spec(instance).to_dict(),
        request_id=instance_action_request_id(instance_uuid=instance.uuid, action="create"),
        attempt=max(spec.num_attempts if spec else 1, 1),
    ).to_dict()


def _action(instance: Instance, action: str) -> dict:
    return ActionRequest(
        instance_uuid=str(instance.uuid),
        name=instance.domain_name,
        request_id=_open_request_id(instance, HOST_ACTIONS[action].action),
        action=action,
        task_state=instance.task_state,
        hard=action == "reboot_hard",
    ).to_dict()


def _termination(instance: Instance) -> dict:
    return TerminateRequest(
        instance_uuid=str(instance.uuid),
        name=instance.domain_name,
        request_id=_open_request_id(instance, "delete"),
    ).to_dict()


@transaction.atomic
def host_reconcile(*, host: str, started_at: datetime) -> ReconcileRequest | None:
    """Cast the host the work it had in hand when its worker started (on commit);
    returns what was sent. Work given to it since then is on its way as usual."""
    builds, acts, terminations, left = [], [], [], []
    pending = instances_busy_on_host(host=host, updated_before=started_at)
    for instance in pending:
        task = instance.task_state
        if instance.vm_state == VmState.BUILDING and task == TaskState.SPAWNING:
            builds.append(_build(instance))
        elif task == TaskState.DELETING:
            terminations.append(_termination(instance))
        elif task in _ACTION_OF_TASK:
            acts.append(_action(instance, _ACTION_OF_TASK[task]))
        else:
            left.append(f"{instance.uuid} ({task})")
    if left:
        log.info("reconcile %s: left to their deadlines: %s", host, ", ".join(left))
    if not (builds or acts or terminations):
        return None
    log.info(
        "reconcile %s: %d build(s), %d action(s), %d delete(s) to finish or fail",
        host,
        len(builds),
        len(acts),
        len(terminations),
    )
    request = ReconcileRequest(host=host, builds=builds, actions=acts, terminations=terminations)
    cast_compute(host, "compute.reconcile", request)
    return request


def compute_started(*, started: ComputeStarted) -> None:
    report = started.host_report
    compute_heartbeat(report=report)
    power_states_sync(states=started.guest_states)
    host_reconcile(host=report.host, started_at=host_time(report.started_at))
