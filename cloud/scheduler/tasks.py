"""Scheduler tasks (queue `scheduler`). Task names are part of the message format."""

from typing import Any

from cloud.celery import DATABASE_RETRY, app
from cloud.scheduler.services import SelectionRequest, select_destination


@app.task(**DATABASE_RETRY, name="scheduler.select_destinations")
def select_destinations(spec: dict[str, Any]) -> dict[str, Any]:
    """Choose and claim a host; the result is handed to the next task in the chain."""
    request = SelectionRequest(
        instance_uuid=spec["instance_uuid"],
        project_id=spec["project_id"],
        resources=spec["resources"],
        ignore_hosts=spec.get("ignore_hosts", []),
    )
    selection = select_destination(request)
    return {
        **spec,
        "host": selection.host,
        "alternates": selection.alternates,
        "error": selection.error,
    }
