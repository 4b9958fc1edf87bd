"""The control plane's Celery app: conductor, scheduler and beat workers.

Compute workers run a different app (cloud.workers.app) without Django.
"""

import os

from celery import Celery
from django.db import InterfaceError, OperationalError

from cloud.messaging import celery_config

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
app.conf.beat_schedule = {
    "reap-stuck-builds": {
        "task": "conductor.reap_stuck_builds",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "reap-orphan-claims": {
        "task": "conductor.reap_orphan_claims",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    "confirm-resizes-due": {
        "task": "conductor.confirm_resizes_due",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
}
app.autodiscover_tasks(["cloud.conductor", "cloud.scheduler"])
