"""Celery configuration shared by every Stratus process, Django or not.

The control-plane app (cloud.celery) and the compute app
(cloud.workers.app) both build their configuration here, so that routing,
serialisation and delivery guarantees are the same on both ends of a queue.
This module must not import Django: the compute worker uses it.
"""

import os
from pathlib import Path
from typing import Any

import environ

CONDUCTOR_QUEUE = "conductor"
# Heartbeats have a queue of their own, served by the conductor beside its
# main queue, so a storm of build work never starves them (hosts would be
# declared down while they are fine).
HEARTBEAT_QUEUE = "conductor.heartbeat"
SCHEDULER_QUEUE = "scheduler"
COMPUTE_QUEUE_PREFIX = "compute."

# A heartbeat older than this says nothing the next one will not; it matches
# the control plane's default SERVICE_DOWN_TIME.
HEARTBEAT_EXPIRES = int(os.environ.get("HEARTBEAT_EXPIRES", "60"))
# A host that has been down this long has missed its messages; they expire
# instead of piling up and replaying stale work when it comes back.
COMPUTE_MESSAGE_EXPIRES = int(os.environ.get("COMPUTE_MESSAGE_EXPIRES", "600"))
# Longer than the longest task, so acks_late never redelivers a running one.
VISIBILITY_TIMEOUT = int(os.environ.get("BROKER_VISIBILITY_TIMEOUT", "3600"))


def compute_queue(host: str) -> str:
    """The queue a compute host listens on."""
    return f"{COMPUTE_QUEUE_PREFIX}{host}"


def load_env_file() -> None:
    """Read the checkout's `.env` (if any) without overriding the environment."""
    path = Path(__file__).resolve().parent.parent / ".env"
    if path.exists():
        environ.Env.read_env(path, overwrite=False)


def celery_config() -> dict[str, Any]:
    """Celery settings read from the environment, for any Stratus process."""
    load_env_file()
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    backend = os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")
    return {
        "broker_url": broker,
        "result_backend": backend,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT},
        "result_expires": 3600,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_default_queue": CONDUCTOR_QUEUE,
        "task_routes": {
            "conductor.compute_heartbeat": {"queue": HEARTBEAT_QUEUE},
            "conductor.*": {"queue": CONDUCTOR_QUEUE},
            "scheduler.*": {"queue": SCHEDULER_QUEUE},
        },
        "worker_hijack_root_logger": False,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "timezone": "UTC",
    }
