"""Scheduler tasks (queue `scheduler`). Task names are part of the message format."""

from typing import Any

from cloud.celery import DATABASE_RETRY, app
from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import Selection, select_destination, select_destinations


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
    return _answer(spec, select_destination(SchedulingRequest.from_spec(spec)))


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations_batch")
def select_destinations_batch(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instances of one multi-create, decided together (one scan, one claim)."""
    selections = select_destinations([SchedulingRequest.from_spec(spec) for spec in specs])
    return [_answer(spec, selection) for spec, selection in zip(specs, selections, strict=True)]
