"""Scheduler tasks (queue `scheduler`). Task names are part of the message format."""

from typing import Any

from cloud.celery import DATABASE_RETRY, app
from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import select_destination


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations")
def select_destinations(spec: dict[str, Any]) -> dict[str, Any]:
    """Choose and claim a host; the result is handed to the next task in the chain."""
    selection = select_destination(SchedulingRequest.from_spec(spec))
    return {
        **spec,
        "host": selection.host,
        "alternates": selection.alternates,
        "error": selection.error,
    }
