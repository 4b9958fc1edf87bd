"""Conductor services for createImage: write what the host reports, on the image and
the instance.

Done: the host uploaded the disk to the image API, which made the image active;
the instance's task clears (its vm_state is kept). Failed: the image is deleted
(it has no data, as Nova deletes it) and the task clears; the instance is not put
in ERROR (its guest is as it was), the event and the action record the error. Safe to run twice: the
instance row is locked and an outcome whose event is finished is ignored.
"""

from django.db import transaction

from cloud.images.snapshot import image_snapshot_failed
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.selectors import instance_locked
from cloud.instances.snapshot import SNAPSHOT_EVENT
from cloud.payloads import SnapshotResult


def _pending(result: SnapshotResult) -> bool:
    instance_locked(uuid=result.instance_uuid)
    return actions.event_open(
        instance_uuid=result.instance_uuid, request_id=result.request_id, event=SNAPSHOT_EVENT
    )


def _clear_task(result: SnapshotResult, outcome: str, progress: int) -> None:
    instance_transition(
        uuid=result.instance_uuid,
        step=f"create_image:{outcome}",
        expected={"host": result.host},
        values={"progress": progress},
    )


@transaction.atomic
def snapshot_done(*, result: SnapshotResult) -> None:
    if not _pending(result):
        return
    _clear_task(result, "done", 100)
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=SNAPSHOT_EVENT,
        host=result.host,
        result="Success",
    )


@transaction.atomic
def snapshot_failed(*, result: SnapshotResult) -> None:
    if not _pending(result):
        return
    image_snapshot_failed(image_id=result.image_id)
    _clear_task(result, "failed", 0)
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=SNAPSHOT_EVENT,
        host=result.host,
        result="Error",
        traceback=result.details,
        details=result.message,
        action_message="Error",
    )
