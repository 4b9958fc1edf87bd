"""Conductor services for rebuilds and evacuations: the steps and outcomes a host reports.

Safe to run twice (acks_late redelivery): the instance row is locked, an outcome
whose event is finished already is ignored, and every state write is the state
machine's conditional update on the action's task_states, so an outcome never
overwrites an action (a delete) that took over meanwhile. Outcomes and steps may
arrive out of order (several conductor threads): a step only moves the task
forward from an earlier one (cloud.conductor.steps), and an outcome accepts any
of the action's task_states.
"""

from django.db import transaction
from django.utils import timezone

from cloud.conductor.evacuate import evacuation_end
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.rebuild import REBUILD_EVENT
from cloud.instances.selectors import instance_locked
from cloud.instances.states import TRANSITIONS, VmState
from cloud.payloads import ActionResult
from cloud.power_state import PowerState


def _pending(result: ActionResult) -> bool:
    instance_locked(uuid=result.instance_uuid)
    return actions.event_open(
        instance_uuid=result.instance_uuid, request_id=result.request_id, event=REBUILD_EVENT
    )


@transaction.atomic
def rebuild_done(*, result: ActionResult) -> None:
    """The guest runs from its new image (or is shut off, as it was before)."""
    if not _pending(result):
        return
    stopped = result.power_state == PowerState.SHUTDOWN
    instance_transition(
        uuid=result.instance_uuid,
        step=f"{result.action}:done",
        expected={"host": result.host},
        vm_state=VmState.STOPPED if stopped else TRANSITIONS[result.action].done,
        power_state=result.power_state,
        values={"launched_at": timezone.now(), "progress": 100},
    )
    if result.action == "evacuate":
        evacuation_end(instance_uuid=result.instance_uuid, done=True)
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=REBUILD_EVENT,
        host=result.host,
        result="Success",
    )


@transaction.atomic
def rebuild_failed(*, result: ActionResult) -> None:
    """A failed rebuild leaves the server in ERROR with a fault, as Nova does."""
    if not _pending(result):
        return
    if instance_transition(
        uuid=result.instance_uuid,
        step=f"{result.action}:failed",
        expected={"host": result.host},
        power_state=result.power_state,
    ):
        actions.fault_record(
            instance_uuid=result.instance_uuid,
            code=500,
            message=f"Could not {result.action} the instance on {result.host}: {result.message}",
            details=result.details,
            host=result.host,
        )
    if result.action == "evacuate":
        evacuation_end(instance_uuid=result.instance_uuid, done=False)
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=REBUILD_EVENT,
        host=result.host,
        result="Error",
        traceback=result.details,
        details=result.message,
        action_message="Error",
    )
