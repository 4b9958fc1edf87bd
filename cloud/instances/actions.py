"""Instance actions and events: the record of who did what to a server, and how it went.

Each record is also told to operators (cloud.instances.notifications): an action's
start and end, the steps Nova notifies, and a step that failed on a host
(compute.exception), published when the transaction commits.
"""

from datetime import datetime

from django.db import connection
from django.db.models import F, Value
from django.utils import timezone

from cloud.instances import notifications
from cloud.instances.models import InstanceAction, InstanceActionEvent, InstanceFault


def action_start(
    *, instance_uuid: str, action: str, request_id: str, user_id: str, project_id: str
) -> InstanceAction:
    notifications.action_started(
        instance_uuid=instance_uuid, action=action, request_id=request_id, user_id=user_id
    )
    return InstanceAction.objects.create(
        instance_uuid=instance_uuid,
        action=action,
        request_id=request_id,
        user_id=user_id,
        project_id=project_id,
        start_time=timezone.now(),
    )


def _event_insert(
    instance_uuid: str,
    request_id: str,
    event: str,
    start: datetime,
    host: str | None,
    finish: datetime | None = None,
    result: str | None = None,
    traceback: str | None = None,
    details: str | None = None,
) -> bool:
    """Record the event under the latest action of that request, in one statement (the
    action's row is read by the INSERT); whether there was such an action."""
    event_table = InstanceActionEvent._meta.db_table
    action_table = InstanceAction._meta.db_table
    uuid = InstanceAction._meta.get_field("instance_uuid").get_db_prep_value(
        instance_uuid, connection
    )
    start_at, finish_at = (
        connection.ops.adapt_datetimefield_value(t) if t is not None else None
        for t in (start, finish)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {event_table} "
            "(action_id, event, start_time, finish_time, result, traceback, host, details) "
            f"SELECT id, %s, %s, %s, %s, %s, %s, %s FROM {action_table} "
            "WHERE instance_uuid = %s AND request_id = %s "
            "ORDER BY start_time DESC, id DESC LIMIT 1",
            [event, start_at, finish_at, result, traceback, host, details, uuid, request_id],
        )
        return cursor.rowcount > 0


def event_start(
    *,
    instance_uuid: str,
    request_id: str,
    event: str,
    host: str | None,
    action: InstanceAction | None = None,
) -> None:
    """Start the event under the action of that request (`action`, when the caller has it
    in hand; else the INSERT finds it)."""
    if action is not None:
        InstanceActionEvent.objects.create(
            action=action, event=event, start_time=timezone.now(), host=host
        )
        started = True
    else:
        started = _event_insert(instance_uuid, request_id, event, timezone.now(), host)
    if started:
        notifications.step(
            instance_uuid=instance_uuid,
            request_id=request_id,
            event=event,
            phase="start",
            host=host,
        )


def event_open(*, instance_uuid: str, request_id: str, event: str) -> bool:
    """Whether that event was started and is not finished (a redelivered outcome finds
    it finished already)."""
    return InstanceActionEvent.objects.filter(
        action__instance_uuid=instance_uuid,
        action__request_id=request_id,
        event=event,
        finish_time__isnull=True,
    ).exists()


def event_finish(
    *,
    instance_uuid: str,
    request_id: str,
    event: str,
    host: str | None,
    result: str,
    traceback: str | None = None,
    details: str | None = None,
) -> None:
    """Finish the latest open event of that name (or record one finished now): one
    UPDATE when it is open."""
    now = timezone.now()
    latest_open = (
        InstanceActionEvent.objects.filter(
            action__instance_uuid=instance_uuid,
            action__request_id=request_id,
            event=event,
            finish_time__isnull=True,
        )
        .order_by("-id")
        .values("id")[:1]
    )
    finished = InstanceActionEvent.objects.filter(id__in=latest_open).update(
        finish_time=now,
        result=result,
        host=Value(host) if host else F("host"),
        traceback=traceback,
        details=details,
    )
    if not finished and not _event_insert(
        instance_uuid, request_id, event, now, host or None, now, result, traceback, details
    ):
        return
    failed = result == "Error"
    notifications.step(
        instance_uuid=instance_uuid,
        request_id=request_id,
        event=event,
        phase="error" if failed else "end",
        host=host,
    )
    if failed and host:
        notifications.compute_exception(
            instance_uuid=instance_uuid,
            event=event,
            host=host,
            message=details or "",
            traceback=traceback or "",
        )


def action_finish(*, instance_uuid: str, request_id: str, message: str | None = None) -> None:
    notifications.action_finished(
        instance_uuid=instance_uuid, request_id=request_id, error=message == "Error"
    )
    InstanceAction.objects.filter(instance_uuid=instance_uuid, request_id=request_id).update(
        finish_time=timezone.now(), message=message, updated_at=timezone.now()
    )


def finish(
    *,
    instance_uuid: str,
    request_id: str,
    event: str,
    host: str | None,
    result: str,
    traceback: str | None = None,
    details: str | None = None,
    action_message: str | None = None,
) -> None:
    """Finish the action's last step (event_finish) and the action itself (its message
    is "Error" when the step failed)."""
    event_finish(
        instance_uuid=instance_uuid,
        request_id=request_id,
        event=event,
        host=host,
        result=result,
        traceback=traceback,
        details=details,
    )
    action_finish(instance_uuid=instance_uuid, request_id=request_id, message=action_message)


def fault_record(
    *, instance_uuid: str, code: int, message: str, details: str = "", host: str | None = None
) -> InstanceFault:
    return InstanceFault.objects.create(
        instance_uuid=instance_uuid,
        code=code,
        message=message[:255],
        details=details,
        host=host,
    )


def action_open_fail(*, instance_uuid: str, host: str | None, message: str) -> None:
    """Finish the instance's unfinished action, and its open events, in error (a task
    past its deadline)."""
    action = (
        InstanceAction.objects.filter(instance_uuid=instance_uuid, finish_time__isnull=True)
        .order_by("-start_time", "-id")
        .first()
    )
    if action is None:
        return
    for event in action.events.filter(finish_time__isnull=True).values_list("event", flat=True):
        event_finish(
            instance_uuid=instance_uuid,
            request_id=action.request_id,
            event=event,
            host=host,
            result="Error",
            details=message,
        )
    action_finish(instance_uuid=instance_uuid, request_id=action.request_id, message="Error")
