"""The instance notifications (cloud.notifications): built from the committed rows
and published through cloud.rpc.notify. Called by the one module that records
actions (cloud.instances.actions) and the one that writes states
(cloud.instances.lifecycle), so every action, step and state change of every
service is covered where it is recorded."""

from datetime import datetime
from typing import Any, TypeVar

from cloud.instances.models import Instance, InstanceAction, InstanceFault
from cloud.notifications import (
    ACTION_EVENTS,
    ERROR,
    INFO,
    STEP_EVENTS,
    ExceptionPayload,
    FlavorPayload,
    InstanceActionPayload,
    InstanceStateUpdatePayload,
    InstanceUpdatePayload,
)
from cloud.rpc import committed, notify

P = TypeVar("P", InstanceActionPayload, InstanceUpdatePayload)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _flavor(instance: Instance) -> FlavorPayload | None:
    flavor = instance.flavor or {}
    if not flavor:
        return None
    return FlavorPayload(
        flavorid=str(flavor.get("flavorid", "")),
        name=str(flavor.get("name", "")),
        vcpus=int(flavor.get("vcpus", 0)),
        memory_mb=int(flavor.get("memory_mb", 0)),
        root_gb=int(flavor.get("root_gb", 0)),
    )


def _payload(cls: type[P], instance: Instance, **extra: Any) -> P:
    """An instance notification payload (`cls`) of the instance as committed."""
    return cls(
        uuid=str(instance.uuid),
        display_name=instance.display_name,
        host=instance.host,
        node=instance.node,
        tenant_id=instance.project_id,
        user_id=instance.user_id,
        state="deleted" if instance.deleted else instance.vm_state,
        task_state=instance.task_state,
        power_state=instance.power_state,
        flavor=_flavor(instance),
        image_uuid=instance.image_ref or None,
        created_at=_iso(instance.created_at),
        launched_at=_iso(instance.launched_at),
        terminated_at=_iso(instance.terminated_at),
        **extra,
    )


def _fault(fault: InstanceFault | None, function: str = "") -> ExceptionPayload | None:
    if fault is None:
        return None
    return ExceptionPayload(
        module_name="stratus",
        function_name=function,
        exception=f"Fault{fault.code}",
        exception_message=fault.message,
        traceback=fault.details or "",
    )


def _instance(uuid: str) -> Instance | None:
    """The instance as committed (read once for the notifications of one commit)."""
    return committed(("instance", uuid), lambda: Instance.objects.filter(uuid=uuid).first())


def _action_payload(
    instance_uuid: str, request_id: str | None, error: bool, user_id: str | None = None
) -> InstanceActionPayload | None:
    instance = _instance(instance_uuid)
    if instance is None:
        return None
    fault = InstanceFault.objects.filter(instance_uuid=instance_uuid).first() if error else None
    return _payload(
        InstanceActionPayload,
        instance,
        action_initiator_user=user_id,
        request_id=request_id,
        fault=_fault(fault),
    )


def action_started(*, instance_uuid: str, action: str, request_id: str, user_id: str) -> None:
    """instance.<action>.start, for the actions Nova notifies."""
    name = ACTION_EVENTS.get(action)
    if name:
        notify(
            f"instance.{name}.start",
            lambda: _action_payload(instance_uuid, request_id, False, user_id),
        )


def action_finished(*, instance_uuid: str, request_id: str, error: bool) -> None:
    """instance.<action>.end (or .error, with the fault), for the actions Nova
    notifies; which action it was is read when committed (no query before)."""
    found: dict[str, str] = {}

    def build() -> InstanceActionPayload | None:
        action = (
            InstanceAction.objects.filter(instance_uuid=instance_uuid, request_id=request_id)
            .values_list("action", "user_id")
            .first()
        )
        if action is None or action[0] not in ACTION_EVENTS:
            return None
        found["name"] = ACTION_EVENTS[action[0]]
        return _action_payload(instance_uuid, request_id, error, action[1])

    notify(
        lambda: f"instance.{found['name']}.{'error' if error else 'end'}",
        build,
        priority=ERROR if error else INFO,
    )


def step(*, instance_uuid: str, request_id: str, event: str, phase: str, host: str | None) -> None:
    """instance.resize_prep/resize/resize_finish.start/end: the steps Nova notifies."""
    name = STEP_EVENTS.get(event)
    if name:
        notify(
            f"instance.{name}.{phase}",
            lambda: _action_payload(instance_uuid, request_id, phase == "error"),
            publisher=f"stratus-compute:{host}" if host else "",
            priority=ERROR if phase == "error" else INFO,
        )


def compute_exception(
    *, instance_uuid: str, event: str, host: str, message: str, traceback: str
) -> None:
    """compute.exception: a step failed on a host."""
    notify(
        "compute.exception",
        lambda: ExceptionPayload(
            module_name=f"stratus.compute.{instance_uuid}",
            function_name=event,
            exception=message.split(":", 1)[0][:255] if message else "Error",
            exception_message=message,
            traceback=traceback,
        ),
        publisher=f"stratus-compute:{host}",
        priority=ERROR,
    )


def state_updated(*, uuid: str, old_state: str | None, old_task_state: str | None) -> None:
    """instance.update: the instance's states changed (lifecycle)."""

    def build() -> InstanceUpdatePayload | None:
        instance = _instance(uuid)
        if instance is None:
            return None
        return _payload(
            InstanceUpdatePayload,
            instance,
            state_update=InstanceStateUpdatePayload(
                old_state=old_state,
                state=instance.vm_state,
                old_task_state=old_task_state,
                new_task_state=instance.task_state,
            ),
        )

    notify("instance.update", build)
