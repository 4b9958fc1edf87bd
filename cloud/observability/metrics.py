"""Prometheus metrics every process records (prometheus-client), without Django.

- Requests: `stratus_http_requests_total{method,route,status}` and
  `stratus_http_request_duration_seconds{method,route}`, recorded by the api's
  middleware (cloud.operators.middleware) under the URL pattern's route, never
  the raw path (a server id is not a label).
- Tasks: `stratus_celery_tasks_total{task,outcome}` (success, failure, retry,
  rejected) and `stratus_celery_task_duration_seconds{task}`, from Celery's signals,
  so every task of every worker is counted with no change to it.
- Scheduling: `stratus_scheduler_decisions_total{result}` and
  `stratus_scheduler_no_valid_host_total{reason}` (the filter that removed the last
  hosts), counted by the scheduler.

Where they are read: a worker's pool is one process (threads or solo), so each
worker serves its own registry on `METRICS_PORT` (`METRICS_ADDR`, default
127.0.0.1) when that is set: Prometheus scrapes each worker, as it scrapes each
machine. The api serves its own at `/metrics`, with the collectors that read the
database at scrape time (instances, hosts, queues); under gunicorn's several
processes it aggregates them with the client's multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`, emptied by the unit before the api starts). In a
test the workers run as threads of the test process and share its registry.
"""

import os
import threading
import time
from typing import Any

from celery import signals
from prometheus_client import Counter, Histogram, start_http_server

REQUESTS = Counter(
    "stratus_http_requests",
    "API requests by route (URL pattern) and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "stratus_http_request_duration_seconds",
    "API request latency by route",
    ["method", "route"],
)
CLIENT_ERROR_WRITES = Counter(
    "stratus_api_client_error_writes",
    "API requests answered with a 4xx that committed an INSERT (cloud.api.write_audit)",
    ["method", "route"],
)
TASKS = Counter(
    "stratus_celery_tasks", "Celery tasks run, by task name and outcome", ["task", "outcome"]
)
TASK_SECONDS = Histogram(
    "stratus_celery_task_duration_seconds",
    "Celery task run time by task name",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
SCHEDULER_DECISIONS = Counter(
    "stratus_scheduler_decisions", "Scheduling decisions by result", ["result"]
)
NO_VALID_HOST = Counter(
    "stratus_scheduler_no_valid_host",
    "Requests no host could take, by the filter that removed the last hosts",
    ["reason"],
)

_started: dict[str, float] = {}
_lock = threading.Lock()


def scheduler_decided(*, host: str | None, reason: str | None = None) -> None:
    SCHEDULER_DECISIONS.labels(result="host" if host else "no_valid_host").inc()
    if not host:
        NO_VALID_HOST.labels(reason=reason or "unknown").inc()


def _name(task: Any, sender: Any = None) -> str:
    return getattr(task, "name", None) or getattr(sender, "name", None) or "unknown"


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        with _lock:
            _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_):
    with _lock:
        started = _started.pop(task_id, None) if task_id else None
    name = _name(task)
    if started is not None:
        TASK_SECONDS.labels(task=name).observe(time.monotonic() - started)
    outcome = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}.get(
        state or "", (state or "unknown").lower()
    )
    TASKS.labels(task=name, outcome=outcome).inc()


@signals.task_rejected.connect
def _task_rejected(message: Any = None, **_: Any) -> None:
    headers = getattr(message, "headers", None) or {}
    TASKS.labels(task=headers.get("task", "unknown"), outcome="rejected").inc()


@signals.worker_ready.connect
def _serve(**_: Any) -> None:
    """A worker serves its registry on METRICS_PORT when that is set."""
    port = os.environ.get("METRICS_PORT")
    if port:
        start_http_server(int(port), addr=os.environ.get("METRICS_ADDR", "127.0.0.1"))
