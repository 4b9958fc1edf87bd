"""Sending tasks from the control plane: casts to the conductor and to compute hosts,
and the few synchronous calls to a host (with a timeout).

Casts made inside a transaction are published only after it commits, so a
worker never looks for a row that is not there yet.
"""

from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeout
from django.db import transaction

from cloud.celery import app
from cloud.messaging import COMPUTE_MESSAGE_EXPIRES, CONDUCTOR_QUEUE, compute_queue


class HostUnreachable(Exception):
    """A synchronous call to a compute host got no answer in time."""


def cast_conductor(task_name: str, *args: Any) -> None:
    transaction.on_commit(lambda: app.send_task(task_name, args=list(args), queue=CONDUCTOR_QUEUE))


def cast_compute(host: str, task_name: str, *args: Any) -> None:
    transaction.on_commit(
        lambda: app.send_task(
            task_name,
            args=list(args),
            queue=compute_queue(host),
            expires=COMPUTE_MESSAGE_EXPIRES,
        )
    )


def call_compute(host: str, task_name: str, *args: Any, timeout: float) -> Any:
    """Ask a host and wait for its answer; never called from inside a worker."""
    result = app.send_task(task_name, args=list(args), queue=compute_queue(host), expires=timeout)
    try:
        return result.get(timeout=timeout, propagate=True)
    except CeleryTimeout as exc:
        raise HostUnreachable(f"compute host {host} did not answer within {timeout:.0f}s") from exc
    finally:
        result.forget()
