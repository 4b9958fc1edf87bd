"""Conductor tasks (queue `conductor`): read the payload, call one service.

Task names are part of the message format; never rename one. The control plane's
own messages (from the api and the schedulers) are read in the version this
conductor speaks (settings.PAYLOAD_VERSION_PIN: a rolling upgrade's older release);
computes are upgraded after the control plane, so theirs are read as they come.
"""

from typing import Any, TypeVar

from django.conf import settings

from cloud.celery import DATABASE_RETRY, app
from cloud.conductor import (
    consoles,
    deadlines,
    evacuate,
    power_sync,
    rebuild,
    reconcile,
    resize,
    server_actions,
    services,
    snapshot,
    steps,
    volume_attach,
    volumes,
)
from cloud.payloads import (
    ActionResult,
    BuildFailure,
    BuildInstances,
    ComputeStarted,
    GuestStates,
    HostReport,
    MigrationResult,
    MigrationTask,
    Payload,
    SchedulerAnswer,
    SnapshotResult,
    SpawnResult,
    TaskProgress,
    Terminated,
    VolumeAttached,
    VolumeBackendReport,
    VolumeConnection,
    VolumeDetached,
    VolumeResult,
)

P = TypeVar("P", bound=Payload)


def _read(cls: type[P], data: dict[str, Any]) -> P:
    """A message of the control plane, as this conductor's version reads it."""
    return cls.from_dict(data, speaks=settings.PAYLOAD_VERSION_PIN)


@app.task(**DATABASE_RETRY, name="conductor.build_instances")
def build_instances(payload: dict[str, Any]) -> None:
    build = _read(BuildInstances, payload)
    services.instances_schedule(instance_uuids=build.instance_uuids, request_id=build.request_id)


@app.task(**DATABASE_RETRY, name="conductor.schedule_done")
def schedule_done(selection: dict[str, Any]) -> None:
    services.schedule_done(selection=_read(SchedulerAnswer, selection))


@app.task(**DATABASE_RETRY, name="conductor.schedule_done_batch")
def schedule_done_batch(selections: list[dict[str, Any]]) -> None:
    for selection in selections:
        services.schedule_done(selection=_read(SchedulerAnswer, selection))


@app.task(**DATABASE_RETRY, name="conductor.instance_spawned")
def instance_spawned(payload: dict[str, Any]) -> None:
    result = SpawnResult.from_dict(payload)
    services.instance_spawned(result=result)
    consoles.consoles_reported(
        instance_uuid=result.instance_uuid, host=result.host, consoles=result.consoles
    )


@app.task(**DATABASE_RETRY, name="conductor.build_failed")
def build_failed(payload: dict[str, Any]) -> None:
    services.build_failed(failure=BuildFailure.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.instance_terminated")
def instance_terminated(payload: dict[str, Any]) -> None:
    services.instance_terminated(terminated=Terminated.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.instance_action_done")
def instance_action_done(payload: dict[str, Any]) -> None:
    result = ActionResult.from_dict(payload)
    server_actions.instance_action_done(result=result)
    consoles.consoles_reported(
        instance_uuid=result.instance_uuid, host=result.host, consoles=result.consoles
    )


@app.task(**DATABASE_RETRY, name="conductor.instance_action_failed")
def instance_action_failed(payload: dict[str, Any]) -> None:
    server_actions.instance_action_failed(result=ActionResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.compute_heartbeat")
def compute_heartbeat(payload: dict[str, Any]) -> None:
    services.compute_heartbeat(report=HostReport.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.reap_stuck_builds")
def reap_stuck_builds() -> int:
    # Named when it reaped builds only; it now ends every task past its deadline.
    return deadlines.deadlines_reap(
        build_timeout=settings.BUILD_TIMEOUT,
        deadlines=settings.TASK_DEADLINES,
        default=settings.TASK_DEADLINE_DEFAULT,
    )


@app.task(**DATABASE_RETRY, name="conductor.sync_power_states")
def sync_power_states(payload: dict[str, Any]) -> None:
    power_sync.power_states_sync(states=GuestStates.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.compute_started")
def compute_started(payload: dict[str, Any]) -> None:
    reconcile.compute_started(started=ComputeStarted.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.reap_orphan_claims")
def reap_orphan_claims() -> int:
    return services.allocations_reap_orphans(older_than_seconds=settings.BUILD_TIMEOUT)


# -- resize (cloud.conductor.resize) ----------------------------------------------
@app.task(**DATABASE_RETRY, name="conductor.resize_instance")
def resize_instance(payload: dict[str, Any]) -> None:
    task = _read(MigrationTask, payload)
    resize.resize_schedule(migration_uuid=task.migration_uuid, request_id=task.request_id)


@app.task(**DATABASE_RETRY, name="conductor.resize_scheduled")
def resize_scheduled(selection: dict[str, Any]) -> None:
    resize.resize_scheduled(selection=_read(SchedulerAnswer, selection))


@app.task(**DATABASE_RETRY, name="conductor.confirm_resize")
def confirm_resize(payload: dict[str, Any]) -> None:
    task = _read(MigrationTask, payload)
    resize.resize_confirm(migration_uuid=task.migration_uuid, request_id=task.request_id)


@app.task(**DATABASE_RETRY, name="conductor.revert_resize")
def revert_resize(payload: dict[str, Any]) -> None:
    task = _read(MigrationTask, payload)
    resize.resize_revert(migration_uuid=task.migration_uuid, request_id=task.request_id)


@app.task(**DATABASE_RETRY, name="conductor.migration_step_done")
def migration_step_done(payload: dict[str, Any]) -> None:
    result = MigrationResult.from_dict(payload)
    resize.migration_step_done(result=result)
    if result.step in consoles.DEFINING_STEPS:
        consoles.consoles_reported(
            instance_uuid=result.instance_uuid, host=result.host, consoles=result.consoles
        )


@app.task(**DATABASE_RETRY, name="conductor.migration_step_failed")
def migration_step_failed(payload: dict[str, Any]) -> None:
    resize.migration_step_failed(result=MigrationResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.confirm_resizes_due")
def confirm_resizes_due() -> int:
    return resize.resizes_confirm_due(window_seconds=settings.RESIZE_CONFIRM_WINDOW)


# -- rebuild, evacuate, createImage (cloud.conductor.rebuild, .steps, .snapshot) -----
@app.task(**DATABASE_RETRY, name="conductor.instance_task_progress")
def instance_task_progress(payload: dict[str, Any]) -> None:
    steps.task_progress(progress=TaskProgress.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.rebuild_done")
def rebuild_done(payload: dict[str, Any]) -> None:
    result = ActionResult.from_dict(payload)
    rebuild.rebuild_done(result=result)
    consoles.consoles_reported(
        instance_uuid=result.instance_uuid, host=result.host, consoles=result.consoles
    )


@app.task(**DATABASE_RETRY, name="conductor.rebuild_failed")
def rebuild_failed(payload: dict[str, Any]) -> None:
    rebuild.rebuild_failed(result=ActionResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.snapshot_done")
def snapshot_done(payload: dict[str, Any]) -> None:
    snapshot.snapshot_done(result=SnapshotResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.snapshot_failed")
def snapshot_failed(payload: dict[str, Any]) -> None:
    snapshot.snapshot_failed(result=SnapshotResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.evacuate_instance")
def evacuate_instance(payload: dict[str, Any]) -> None:
    task = _read(MigrationTask, payload)
    evacuate.evacuate_schedule(migration_uuid=task.migration_uuid, request_id=task.request_id)


@app.task(**DATABASE_RETRY, name="conductor.evacuate_scheduled")
def evacuate_scheduled(selection: dict[str, Any]) -> None:
    evacuate.evacuate_scheduled(selection=_read(SchedulerAnswer, selection))


# -- block storage (cloud.conductor.volumes, .volume_attach) -------------------------
@app.task(**DATABASE_RETRY, name="conductor.volume_created")
def volume_created(payload: dict[str, Any]) -> None:
    # A volume made for a server's boot goes on to its host (cloud.conductor.services).
    services.volume_created(result=VolumeResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_deleted")
def volume_deleted(payload: dict[str, Any]) -> None:
    volumes.volume_deleted(result=VolumeResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_extended")
def volume_extended(payload: dict[str, Any]) -> None:
    volumes.volume_extended(result=VolumeResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_snapshot_created")
def volume_snapshot_created(payload: dict[str, Any]) -> None:
    volumes.snapshot_created(result=VolumeResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_snapshot_deleted")
def volume_snapshot_deleted(payload: dict[str, Any]) -> None:
    volumes.snapshot_deleted(result=VolumeResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_backend_heartbeat")
def volume_backend_heartbeat(payload: dict[str, Any]) -> None:
    volumes.backend_heartbeat(report=VolumeBackendReport.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_connection_ready")
def volume_connection_ready(payload: dict[str, Any]) -> None:
    volume_attach.connection_ready(connection=VolumeConnection.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_connection_terminated")
def volume_connection_terminated(payload: dict[str, Any]) -> None:
    volume_attach.connection_terminated(connection=VolumeConnection.from_dict(payload))


# -- volumes on the compute hosts (cloud.conductor.volume_attach) ------------------
@app.task(**DATABASE_RETRY, name="conductor.volume_attached")
def volume_attached(payload: dict[str, Any]) -> None:
    volume_attach.volume_attached(result=VolumeAttached.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_attach_failed")
def volume_attach_failed(payload: dict[str, Any]) -> None:
    volume_attach.volume_attach_failed(result=VolumeAttached.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_detached")
def volume_detached(payload: dict[str, Any]) -> None:
    volume_attach.volume_detached(result=VolumeDetached.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.volume_detach_failed")
def volume_detach_failed(payload: dict[str, Any]) -> None:
    volume_attach.volume_detach_failed(result=VolumeDetached.from_dict(payload))
