"""Scheduler tasks (queue `scheduler`). Task names are part of the message format.

The tasks of one worker process hand their requests to its decider thread
(cloud.scheduler.passes), which decides the requests waiting together.
"""

from typing import Any

from cloud.celery import DATABASE_RETRY, app
from cloud.scheduler.passes import passes
from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import Selection


def _answer(spec: dict[str, Any], selection: Selection) -> dict[str, Any]:
    return {
        **spec,
        "host": selection.host,
        "alternates": selection.alternates,
        "error": selection.error,
    }


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations")
def select_destinations_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Choose and claim a host; the result is handed to the next task in the chain."""
    (selection,) = passes.decide([SchedulingRequest.from_spec(spec)])
    return _answer(spec, selection)


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations_batch")
def select_destinations_batch(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instances of one multi-create, decided together (one scan, one claim)."""
    selections = passes.decide([SchedulingRequest.from_spec(spec) for spec in specs])
    return [_answer(spec, selection) for spec, selection in zip(specs, selections, strict=True)]
