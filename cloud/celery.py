"""The control plane's Celery app: conductor, scheduler and beat workers.

Compute workers run a different app (cloud.workers.app) without Django.
"""

import logging.config
import os
from typing import Any

from celery import Celery, signals
from django.db import InterfaceError, OperationalError, close_old_connections

from cloud.messaging import DEADLINE_REAP_INTERVAL, HEARTBEAT_QUEUE, celery_config

# Imported for their Celery signal handlers: request ids and task metrics of every task.
from cloud.observability import metrics, request_id  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloud.settings")

# Control-plane tasks are idempotent, so a transient database failure (SQLite
# busy past its timeout, a PostgreSQL failover) is retried with backoff
# instead of leaving an instance half-way.
DATABASE_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
}

app = Celery("stratus")
app.conf.update(celery_config())
# Celery's Django fixup closes every database connection before and after each task
# unless told to reuse them: a new PostgreSQL connection (a backend forked, a login,
# the session set up) for every hop of every boot. Reused instead, they live as
# CONN_MAX_AGE says, and a broken or expired one is closed between tasks (below), as
# Django does between requests.
app.conf.update({"CELERY_DB_REUSE_MAX": 2**31})
# The beat's work goes on the conductors' heartbeat queue, beside the hosts' heartbeats:
# behind a storm of build work on `conductor` it would expire before it ran, and the
# deadlines would go unenforced exactly when work piles up.
app.conf.beat_schedule = {
    "reap-stuck-builds": {
        "task": "conductor.reap_stuck_builds",
        "schedule": DEADLINE_REAP_INTERVAL,
        "options": {"expires": DEADLINE_REAP_INTERVAL, "queue": HEARTBEAT_QUEUE},
    },
    "reap-orphan-claims": {
        "task": "conductor.reap_orphan_claims",
        "schedule": 300.0,
        "options": {"expires": 300, "queue": HEARTBEAT_QUEUE},
    },
    "confirm-resizes-due": {
        "task": "conductor.confirm_resizes_due",
        "schedule": 60.0,
        "options": {"expires": 60, "queue": HEARTBEAT_QUEUE},
    },
}


@signals.task_prerun.connect
@signals.task_postrun.connect
def _connections_checked(**_: Any) -> None:
    """Close this thread's connections that are broken or past CONN_MAX_AGE."""
    close_old_connections()


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    """The workers log as the api does (settings.LOGGING: LOG_FORMAT, request ids)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


app.autodiscover_tasks(["cloud.conductor", "cloud.scheduler", "cloud.network"])
