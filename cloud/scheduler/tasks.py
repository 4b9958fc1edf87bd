"""Scheduler tasks (queue `scheduler`). Task names are part of the message format.

The tasks of one worker process hand their requests to its decider thread
(cloud.scheduler.passes), which decides the requests waiting together. A request
is read in the version this scheduler speaks (settings.PAYLOAD_VERSION_PIN) and
answered in the version it was asked in, which its conductor reads.
"""

from typing import Any

from django.conf import settings

from cloud.celery import DATABASE_RETRY, app
from cloud.payloads import SchedulerAnswer
from cloud.scheduler.passes import passes
from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import Selection


def _request(data: dict[str, Any]) -> SchedulingRequest:
    return SchedulingRequest.from_dict(data, speaks=settings.PAYLOAD_VERSION_PIN)


def answer(data: dict[str, Any], request: SchedulingRequest, selection: Selection) -> dict:
    """The answer to `request` (received as `data`), in the version it was asked in."""
    reply = SchedulerAnswer(
        instance_uuid=request.instance_uuid,
        request_id=request.request_id,
        host=selection.host,
        alternates=selection.alternates,
        error=selection.error,
        attempt=request.attempt,
        migration_uuid=request.migration_uuid,
    )
    return reply.to_dict(data.get("version") or SchedulingRequest.UNVERSIONED)


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations")
def select_destinations_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Choose and claim a host; the result is handed to the next task in the chain."""
    request = _request(spec)
    (selection,) = passes.decide([request])
    return answer(spec, request, selection)


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations_batch")
def select_destinations_batch(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instances of one multi-create, decided together (one scan, one claim)."""
    requests = [_request(spec) for spec in specs]
    selections = passes.decide(requests)
    return [
        answer(spec, request, selection)
        for spec, request, selection in zip(specs, requests, selections, strict=True)
    ]
