"""The control plane's Celery app: conductor, scheduler and beat workers.

Compute workers run a different app (cloud.workers.app) without Django.
"""

import os

from celery import Celery

from cloud.messaging import celery_config

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloud.settings")

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
}
app.autodiscover_tasks(["cloud.conductor", "cloud.scheduler"])
