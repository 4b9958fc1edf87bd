"""Conductor services for server actions a host carried out: write the outcome.

Each is safe to run twice with the same outcome (acks_late redelivery): the
instance row is locked, an outcome whose event is already finished is
ignored, and the state is written by the state machine's conditional update
(cloud.instances.lifecycle), so an outcome never overwrites an action that
took over meanwhile (a hard reboot over a pause, a delete).
"""

from django.db import transaction

from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.selectors import instance_locked
from cloud.instances.server_actions import HOST_ACTIONS
from cloud.instances.states import KEEP, VmState
from cloud.payloads import ActionResult
from cloud.power_state import PowerState


def _pending(result: ActionResult) -> bool:
    """Lock the instance; True when this outcome has not been recorded yet."""
    instance_locked(uuid=result.instance_uuid)
    return actions.event_open(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=HOST_ACTIONS[result.action].event,
    )


@transaction.atomic
def instance_action_done(*, result: ActionResult) -> None:
    if not _pending(result):
        return
    instance_transition(
        uuid=result.instance_uuid,
        step=f"{result.action}:done",
        expected={"host": result.host},
        power_state=result.power_state,
    )
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=HOST_ACTIONS[result.action].event,
        host=result.host,
        result="Success",
    )


@transaction.atomic
def instance_action_failed(*, result: ActionResult) -> None:
    """Clear the task and keep the vm_state, as Nova does; a reboot that left the guest
    not running puts it in ERROR. A fault says what went wrong."""
    if not _pending(result):
        return
    spec = HOST_ACTIONS[result.action]
    down = spec.method == "reboot" and result.power_state != PowerState.RUNNING
    if instance_transition(
        uuid=result.instance_uuid,
        step=f"{result.action}:failed",
        expected={"host": result.host},
        vm_state=VmState.ERROR if down else KEEP,
        power_state=result.power_state,
    ):
        actions.fault_record(
            instance_uuid=result.instance_uuid,
            code=500,
            message=f"Could not {spec.method} the instance on {result.host}: {result.message}",
            details=result.details,
            host=result.host,
        )
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=spec.event,
        host=result.host,
        result="Error",
        traceback=result.details,
        details=result.message,
        action_message="Error",
    )
