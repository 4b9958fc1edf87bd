"""Versioned notifications, as Nova's: what operators consume from the broker.

Each notification is an envelope in the shape of Nova's versioned notifications
(oslo.messaging's):

    {"priority": "INFO", "event_type": "instance.create.end",
     "publisher_id": "stratus-conductor:<hostname>", "timestamp": "...",
     "message_id": "<uuid>", "request_id": "req-...",
     "payload": {"stratus_object.name": "InstanceActionPayload",
                 "stratus_object.namespace": "stratus",
                 "stratus_object.version": "1.0",
                 "stratus_object.data": {...}}}

published on the topic exchange `notifications` (settings.NOTIFICATIONS_EXCHANGE)
with the routing key `notifications.<priority>` (`notifications.info`,
`notifications.error`), into the durable queues of the same names, which a
consumer reads (README "Operators"). Published by cloud.rpc.notify after the
transaction that made the change commits.

Event types: instance.<action>.start/end/error for the actions of
ACTION_EVENTS (instance.create.*, instance.delete.*, instance.reboot.*, ...),
instance.resize_prep/resize/resize_finish.start/end for the steps of a resize
(STEP_EVENTS) and instance.resize_confirm.*, instance.resize_revert.*;
instance.update on every state change; compute.exception when a step fails on
a host. Payloads have their own versions (one per class, as Nova's); a field
added is a minor bump, a field removed or changed a major one, and
tests/unit/test_notifications.py pins each schema's fingerprint. This module
imports no Django.

History:
    InstanceActionPayload 1.0, InstanceUpdatePayload 1.0, ExceptionPayload 1.0,
    InstanceStateUpdatePayload 1.0, FlavorPayload 1.0 -- initial.
"""

import hashlib
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

NAMESPACE = "stratus"
INFO, ERROR = "INFO", "ERROR"

# action recorded (cloud.instances.actions) -> the notification's action (Nova's names)
ACTION_EVENTS = {
    "create": "create",
    "delete": "delete",
    "reboot": "reboot",
    "stop": "power_off",
    "start": "power_on",
    "pause": "pause",
    "unpause": "unpause",
    "suspend": "suspend",
    "resume": "resume",
    "rebuild": "rebuild",
    "evacuate": "evacuate",
    "createImage": "snapshot",
    "confirmResize": "resize_confirm",
    "revertResize": "resize_revert",
    "lock": "lock",
    "unlock": "unlock",
}
# event of an action (its steps) -> the notification's action
STEP_EVENTS = {
    "conductor_migrate_server": "resize_prep",
    "compute_resize_instance": "resize",
    "compute_finish_resize": "resize_finish",
}


@dataclass(frozen=True)
class NotificationPayload:
    VERSION: ClassVar[str] = "1.0"

    def envelope_payload(self) -> dict[str, Any]:
        return {
            f"{NAMESPACE}_object.name": type(self).__name__,
            f"{NAMESPACE}_object.namespace": NAMESPACE,
            f"{NAMESPACE}_object.version": self.VERSION,
            f"{NAMESPACE}_object.data": asdict(self),
        }


@dataclass(frozen=True)
class FlavorPayload(NotificationPayload):
    flavorid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int


@dataclass(frozen=True)
class InstanceStateUpdatePayload(NotificationPayload):
    old_state: str | None
    state: str | None
    old_task_state: str | None
    new_task_state: str | None


@dataclass(frozen=True)
class ExceptionPayload(NotificationPayload):
    module_name: str
    function_name: str
    exception: str
    exception_message: str
    traceback: str


@dataclass(frozen=True)
class InstanceActionPayload(NotificationPayload):
    uuid: str
    display_name: str
    host: str | None
    node: str | None
    tenant_id: str
    user_id: str
    state: str
    task_state: str | None
    power_state: int | None
    flavor: FlavorPayload | None
    image_uuid: str | None
    created_at: str | None
    launched_at: str | None
    terminated_at: str | None
    action_initiator_user: str | None
    request_id: str | None
    fault: ExceptionPayload | None


@dataclass(frozen=True)
class InstanceUpdatePayload(NotificationPayload):
    uuid: str
    display_name: str
    host: str | None
    node: str | None
    tenant_id: str
    user_id: str
    state: str
    task_state: str | None
    power_state: int | None
    flavor: FlavorPayload | None
    image_uuid: str | None
    created_at: str | None
    launched_at: str | None
    terminated_at: str | None
    state_update: InstanceStateUpdatePayload


PAYLOADS: tuple[type[NotificationPayload], ...] = (
    FlavorPayload,
    InstanceStateUpdatePayload,
    ExceptionPayload,
    InstanceActionPayload,
    InstanceUpdatePayload,
)


def fingerprint(cls: type[NotificationPayload]) -> str:
    """`<version>-<digest of the field names and types>`: changes with the schema."""
    schema = ";".join(f"{f.name}:{f.type}" for f in fields(cls))
    return f"{cls.VERSION}-{hashlib.sha256(schema.encode()).hexdigest()[:16]}"


def envelope(
    *,
    event_type: str,
    payload: NotificationPayload,
    publisher_id: str,
    priority: str = INFO,
    request_id: str | None = None,
) -> dict[str, Any]:
    return {
        "priority": priority,
        "event_type": event_type,
        "publisher_id": publisher_id,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "message_id": str(uuid.uuid4()),
        "request_id": request_id,
        "payload": payload.envelope_payload(),
    }


def routing_key(priority: str) -> str:
    return f"notifications.{priority.lower()}"
