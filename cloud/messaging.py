"""Celery configuration shared by every Stratus process, Django or not.

The control-plane app (cloud.celery) and the compute app
(cloud.workers.app) both build their configuration here, so that routing,
serialisation and delivery guarantees are the same on both ends of a queue.
This module must not import Django: the compute worker uses it.
"""

import gc
import os
from pathlib import Path
from typing import Any

import environ
from celery import signals

CONDUCTOR_QUEUE = "conductor"
# Heartbeats have a queue of their own, served by the conductor beside its
# main queue, so a storm of build work never starves them (hosts would be
# declared down while they are fine); the beat's periodic work (the deadline
# reaper) goes there too, for the same reason.
HEARTBEAT_QUEUE = "conductor.heartbeat"
SCHEDULER_QUEUE = "scheduler"
COMPUTE_QUEUE_PREFIX = "compute."
# The network controller's queue, and each host's network agent's (cloud.payloads
# describes the messages; the task names below are part of their format).
NETWORK_QUEUE = "network"
NETWORK_AGENT_QUEUE_PREFIX = "network."
AGENT_NETWORK_SETUP = "network_agent.network_setup"
AGENT_NETWORK_TEARDOWN = "network_agent.network_teardown"
AGENT_PORT_BIND = "network_agent.port_bind"
AGENT_PORT_UNBIND = "network_agent.port_unbind"
AGENT_FLOATING_IP_SET = "network_agent.floating_ip_set"
AGENT_FLOATING_IP_UNSET = "network_agent.floating_ip_unset"
NETWORK_SYNC_PORT = "network.sync_port"
NETWORK_SYNC_NETWORK = "network.sync_network"
NETWORK_SYNC_SECURITY_GROUP = "network.sync_security_group"
NETWORK_SYNC_FLOATING_IP = "network.sync_floating_ip"
NETWORK_PORT_STATUS = "network.port_status"
NETWORK_AGENT_HEARTBEAT = "network.agent_heartbeat"
# Each volume backend's worker (cloud.volumeworker) listens on volume.<backend>.
VOLUME_QUEUE_PREFIX = "volume."
VOLUME_CREATE = "volume.create_volume"
VOLUME_DELETE = "volume.delete_volume"
VOLUME_EXTEND = "volume.extend_volume"
VOLUME_SNAPSHOT_CREATE = "volume.create_snapshot"
VOLUME_SNAPSHOT_DELETE = "volume.delete_snapshot"
VOLUME_INITIALIZE_CONNECTION = "volume.initialize_connection"
VOLUME_TERMINATE_CONNECTION = "volume.terminate_connection"

# A heartbeat older than this says nothing the next one will not; it matches
# the control plane's default SERVICE_DOWN_TIME.
HEARTBEAT_EXPIRES = int(os.environ.get("HEARTBEAT_EXPIRES", "60"))
# A host that has been down this long has missed its messages; they expire
# instead of piling up and replaying stale work when it comes back.
COMPUTE_MESSAGE_EXPIRES = int(os.environ.get("COMPUTE_MESSAGE_EXPIRES", "600"))
# How long a message taken by a worker that died (kill -9, a lost host) stays with it
# before Redis hands it to another: longer than the longest task, so acks_late never
# redelivers a running one. The control plane's tasks are database work of seconds
# (retries included: DATABASE_RETRY backs off 30 s at most), so their work comes back
# within minutes; a compute task may run long (an image upload), and a restarted
# compute worker finishes what it had in hand itself (compute.reconcile).
VISIBILITY_TIMEOUT = int(os.environ.get("BROKER_VISIBILITY_TIMEOUT", "300"))
COMPUTE_VISIBILITY_TIMEOUT = int(os.environ.get("COMPUTE_VISIBILITY_TIMEOUT", "3600"))
# How often beat asks for the tasks past their deadline to be ended (seconds): a lost
# build ends in ERROR at most this long after its deadline.
DEADLINE_REAP_INTERVAL = float(os.environ.get("DEADLINE_REAP_INTERVAL", "60"))
# A publish that finds no broker (a restart, a failover) is tried again for about this
# many seconds before the caller sees the error: a worker's report rides out a
# restart of Redis instead of being lost, and the api answers 503 after it.
PUBLISH_RETRY_SECONDS = float(os.environ.get("BROKER_PUBLISH_RETRY_SECONDS", "10"))


# A host's workers (compute, network agent, volume; one of each per host, a hundred
# hosts and more) are idle most of the time, and their idle cost is multiplied by the
# hosts: they wait on Redis this long per BRPOP instead of kombu's 1 s, and look for
# the messages of dead workers every minute (the control plane looks every 10 s, and
# a compute message is only handed out again after COMPUTE_VISIBILITY_TIMEOUT). Their
# Celery heartbeat events (Flower's "online") go every 10 s, not every 2: the command
# lines of deploy/stack.py and the systemd units say --heartbeat-interval 10.
HOST_WORKER_BRPOP_TIMEOUT = 10
HOST_WORKER_RESTORE_INTERVAL = 60


def transport_options(*, compute: bool = False, host: bool = False) -> dict[str, Any]:
    """kombu's Redis options: the visibility timeout, and how often a worker looks for
    messages whose worker died (a fifth of the timeout, at most every 10 s). Compute
    workers keep the messages they hold under keys of their own, so the control plane's
    shorter timeout never hands a running compute task out again. A host's worker
    (`host`; a compute worker is one) waits longer on Redis and restores less often."""
    timeout = COMPUTE_VISIBILITY_TIMEOUT if compute else VISIBILITY_TIMEOUT
    options: dict[str, Any] = {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 5)),
        "unacked_restore_throttle": 1,
    }
    if compute or host:
        options.update(
            brpop_timeout=HOST_WORKER_BRPOP_TIMEOUT,
            unacked_restore_interval=HOST_WORKER_RESTORE_INTERVAL,
        )
    if compute:
        options.update(
            unacked_key="unacked.compute",
            unacked_index_key="unacked_index.compute",
            unacked_mutex_key="unacked_mutex.compute",
        )
    return options


def publish_retry_policy(seconds: float = PUBLISH_RETRY_SECONDS) -> dict[str, float]:
    """kombu's retry policy for a publish: at once, then every second, for `seconds`."""
    return {
        "max_retries": max(1, int(seconds)),
        "interval_start": 0,
        "interval_step": 1,
        "interval_max": 1,
    }


def compute_queue(host: str) -> str:
    """The queue a compute host listens on."""
    return f"{COMPUTE_QUEUE_PREFIX}{host}"


def network_agent_queue(host: str) -> str:
    """The queue a host's network agent listens on."""
    return f"{NETWORK_AGENT_QUEUE_PREFIX}{host}"


def volume_queue(backend: str) -> str:
    """The queue a volume backend's worker listens on."""
    return f"{VOLUME_QUEUE_PREFIX}{backend}"


def load_env_file() -> None:
    """Read the checkout's `.env` (if any) without overriding the environment."""
    path = Path(__file__).resolve().parent.parent / ".env"
    if path.exists():
        environ.Env.read_env(path, overwrite=False)


def celery_config(*, compute: bool = False, host: bool = False) -> dict[str, Any]:
    """Celery settings read from the environment, for any Stratus process (`compute`:
    a compute host's worker; `host`: another of a host's workers)."""
    load_env_file()
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    backend = os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")
    return {
        "broker_url": broker,
        "result_backend": backend,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options(compute=compute, host=host),
        "task_publish_retry_policy": publish_retry_policy(),
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
            "conductor.volume_backend_heartbeat": {"queue": HEARTBEAT_QUEUE},
            "conductor.*": {"queue": CONDUCTOR_QUEUE},
            "scheduler.*": {"queue": SCHEDULER_QUEUE},
            "network.*": {"queue": NETWORK_QUEUE},
        },
        "worker_hijack_root_logger": False,
        # Task events only while a monitor asks for them: Flower (cloud.operators.flower)
        # turns them on in every worker it finds (Celery's enable_events), and a worker
        # with no one watching spends no broker round trip per task on them (a fifth of
        # a scheduler's time in a boot storm). Workers' own heartbeat events stay on.
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "timezone": "UTC",
    }


@signals.worker_ready.connect
def _heap_frozen(**_: Any) -> None:
    """Every worker, once loaded: what it imported (Django, the models, the app, some
    200,000 objects) leaves the garbage collector's generations, so that a full
    collection, which a page of rows or a busy minute of tasks sets off, does not walk
    it each time (Python's gc.freeze; the api's gunicorn workers do the same)."""
    gc.freeze()
