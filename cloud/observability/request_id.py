"""Request ids end to end, as OpenStack's: `X-OpenStack-Request-ID`.

The api gives each request an id (`req-<uuid>`, or the client's own when it sends a
well-formed one, as Nova accepts a global request id) and holds it in a context
variable for the request. Every task published while it is set carries it in the
message headers (Celery's `before_task_publish`, so every sender is covered), and
a worker sets it again while it runs the task (`task_prerun`), so the tasks that
task sends carry it on: api -> conductor -> scheduler -> compute -> conductor.
A task sent with none (beat's periodic work) runs under a fresh id of its own.
`RequestIdFilter` puts the id on every log record of every process.
"""

import contextvars
import logging
import re
import uuid
from typing import Any

from celery import signals

HEADER = "request_id"
_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stratus_request_id", default=None
)


def generate() -> str:
    return f"req-{uuid.uuid4()}"


def accepted(value: str | None) -> str | None:
    """The client's request id if it is one (`req-<uuid>`), else None."""
    if value and _REQUEST_ID.match(value.strip().lower()):
        return value.strip().lower()
    return None


def get() -> str | None:
    return current.get()


def bind(request_id: str | None) -> contextvars.Token:
    return current.set(request_id)


def unbind(token: contextvars.Token) -> None:
    current.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current.get() or "-"
        return True


_task_tokens: dict[str, contextvars.Token] = {}


@signals.before_task_publish.connect
def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = current.get()
    if headers is not None and request_id and not headers.get(HEADER):
        headers[HEADER] = request_id


def task_request_id(task: Any) -> str | None:
    """The request id a running task's message carried (None when sent without one)."""
    request = getattr(task, "request", None)
    value = getattr(request, HEADER, None)
    if value is None and isinstance(getattr(request, "headers", None), dict):
        value = request.headers.get(HEADER)
    return value


@signals.task_prerun.connect
def _enter(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None:
        return
    _task_tokens[task_id] = current.set(task_request_id(task) or generate())


@signals.task_postrun.connect
def _leave(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        try:
            current.reset(token)
        except ValueError:
            # Reset from another context than the one that set it (a pool that runs
            # prerun and postrun apart): clear instead.
            current.set(None)
