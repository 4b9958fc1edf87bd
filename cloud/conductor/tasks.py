"""Conductor tasks (queue `conductor`): read the payload, call one service.

Task names are part of the message format; never rename one.
"""

from typing import Any

from django.conf import settings

from cloud.celery import DATABASE_RETRY, app
from cloud.conductor import lifecycle, services
from cloud.payloads import ActionResult, BuildFailure, HostReport, SpawnResult, Terminated


@app.task(**DATABASE_RETRY, name="conductor.build_instances")
def build_instances(payload: dict[str, Any]) -> None:
    services.instances_schedule(
        instance_uuids=payload["instance_uuids"], request_id=payload["request_id"]
    )


@app.task(**DATABASE_RETRY, name="conductor.schedule_done")
def schedule_done(selection: dict[str, Any]) -> None:
    services.schedule_done(selection=selection)


@app.task(**DATABASE_RETRY, name="conductor.schedule_done_batch")
def schedule_done_batch(selections: list[dict[str, Any]]) -> None:
    for selection in selections:
        services.schedule_done(selection=selection)


@app.task(**DATABASE_RETRY, name="conductor.instance_spawned")
def instance_spawned(payload: dict[str, Any]) -> None:
    services.instance_spawned(result=SpawnResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.build_failed")
def build_failed(payload: dict[str, Any]) -> None:
    services.build_failed(failure=BuildFailure.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.instance_terminated")
def instance_terminated(payload: dict[str, Any]) -> None:
    services.instance_terminated(terminated=Terminated.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.instance_action_done")
def instance_action_done(payload: dict[str, Any]) -> None:
    lifecycle.instance_action_done(result=ActionResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.instance_action_failed")
def instance_action_failed(payload: dict[str, Any]) -> None:
    lifecycle.instance_action_failed(result=ActionResult.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.compute_heartbeat")
def compute_heartbeat(payload: dict[str, Any]) -> None:
    services.compute_heartbeat(report=HostReport.from_dict(payload))


@app.task(**DATABASE_RETRY, name="conductor.reap_stuck_builds")
def reap_stuck_builds() -> int:
    return services.builds_reap_stuck(timeout_seconds=settings.BUILD_TIMEOUT)


@app.task(**DATABASE_RETRY, name="conductor.reap_orphan_claims")
def reap_orphan_claims() -> int:
    return services.allocations_reap_orphans(older_than_seconds=settings.BUILD_TIMEOUT)
