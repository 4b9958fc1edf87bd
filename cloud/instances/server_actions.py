"""Server actions on behalf of API users: the host actions (reboot, stop, start, pause,
unpause, suspend, resume), the admin's reset of the state, lock and unlock.

A host action moves the instance into its task_state through the state machine
(cloud.instances.lifecycle, 409 when the state is in the way), records an
instance action and its event, and publishes the host's task on commit; the
conductor writes the host's outcome (cloud.conductor.server_actions). The others
are done in the api alone, recorded as actions started and finished at once.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cloud.api.errors import Conflict
from cloud.hosts.selectors import host_up
from cloud.identity.context import RequestContext
from cloud.instances import actions, states
from cloud.instances.lifecycle import instance_transition_start
from cloud.instances.models import Instance
from cloud.payloads import ActionRequest
from cloud.rpc import cast_compute


@dataclass(frozen=True)
class HostAction:
    """A transition the host carries out: the compute task and the event it is recorded as."""

    method: str  # Nova's compute API method, named in 409 messages
    action: str  # the instance action recorded (os-instance-actions)
    task: str  # stable compute task name
    event: str  # the instance action event of the host's work


HOST_ACTIONS: dict[str, HostAction] = {
    "reboot": HostAction("reboot", "reboot", "compute.reboot_instance", "compute_reboot_instance"),
    "reboot_hard": HostAction(
        "reboot", "reboot", "compute.reboot_instance", "compute_reboot_instance"
    ),
    "stop": HostAction("stop", "stop", "compute.power_off_instance", "compute_stop_instance"),
    "start": HostAction("start", "start", "compute.power_on_instance", "compute_start_instance"),
    "pause": HostAction("pause", "pause", "compute.pause_instance", "compute_pause_instance"),
    "unpause": HostAction(
        "unpause", "unpause", "compute.unpause_instance", "compute_unpause_instance"
    ),
    "suspend": HostAction(
        "suspend", "suspend", "compute.suspend_instance", "compute_suspend_instance"
    ),
    "resume": HostAction("resume", "resume", "compute.resume_instance", "compute_resume_instance"),
}


@transaction.atomic
def server_action(
    *, context: RequestContext, request_id: str, instance: Instance, action: str
) -> None:
    """Start a host action: transition, instance action and event, task on commit."""
    spec = HOST_ACTIONS[action]
    if not instance.host:
        raise Conflict(f"Instance {instance.uuid} is not ready")
    if not host_up(host=instance.host):
        raise Conflict(
            f"Cannot '{spec.method}' instance {instance.uuid}: "
            f"its compute host {instance.host} is down"
        )
    instance_transition_start(context=context, instance=instance, action=action, method=spec.method)
    uuid = str(instance.uuid)
    actions.action_start(
        instance_uuid=uuid,
        action=spec.action,
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    actions.event_start(
        instance_uuid=uuid, request_id=request_id, event=spec.event, host=instance.host
    )
    cast_compute(
        instance.host,
        spec.task,
        ActionRequest(
            instance_uuid=uuid,
            name=instance.domain_name,
            request_id=request_id,
            action=action,
            task_state=states.TRANSITIONS[action].task_state,
            hard=action == "reboot_hard",
        ),
    )


def _record_api_action(*, context: RequestContext, request_id: str, uuid: str, action: str):
    """An action done in the api alone: started and finished at once."""
    actions.action_start(
        instance_uuid=uuid,
        action=action,
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    actions.action_finish(instance_uuid=uuid, request_id=request_id)


@transaction.atomic
def server_reset_state(
    *, context: RequestContext, request_id: str, instance: Instance, vm_state: str
) -> None:
    """The admin's os-resetState: set vm_state (active or error), clear task_state."""
    instance_transition_start(
        context=context,
        instance=instance,
        action="reset_state",
        method="reset_state",
        vm_state=vm_state,
    )
    _record_api_action(
        context=context, request_id=request_id, uuid=str(instance.uuid), action="resetState"
    )


def _locker(context: RequestContext, instance: Instance) -> str:
    return "owner" if context.project_id == instance.project_id else "admin"


@transaction.atomic
def server_lock(
    *, context: RequestContext, request_id: str, instance: Instance, reason: str | None
) -> None:
    """Lock the server: non-admins' actions on it then answer 409 until it is unlocked."""
    Instance.objects.filter(pk=instance.pk, deleted=False).update(
        locked=True,
        locked_by=_locker(context, instance),
        locked_reason=reason,
        updated_at=timezone.now(),
    )
    _record_api_action(
        context=context, request_id=request_id, uuid=str(instance.uuid), action="lock"
    )


def unlock_needs_override(*, context: RequestContext, instance: Instance) -> bool:
    """Nova's rule: lifting a lock someone else (an admin) set needs the override policy."""
    return instance.locked and instance.locked_by != _locker(context, instance)


@transaction.atomic
def server_unlock(*, context: RequestContext, request_id: str, instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk, deleted=False).update(
        locked=False, locked_by=None, locked_reason=None, updated_at=timezone.now()
    )
    _record_api_action(
        context=context, request_id=request_id, uuid=str(instance.uuid), action="unlock"
    )
