"""The volume worker's Celery app: one per backend, queue `volume.<backend>`, no Django.

    celery -A cloud.volumeworker.app worker -P threads -c 4 -Q volume.<backend>

Threads, so that a long copy (a volume from a large image) does not hold up the
others; the backends lock what they share (the NBD exports' state). At start the
backend re-establishes what must run (nbd: exports whose qemu-nbd died), then the
worker reports its capacity every VOLUME_HEARTBEAT_INTERVAL seconds.
"""

import logging
import logging.config
import threading
from typing import Any, TypeVar

from celery import Celery, signals

from cloud.messaging import (
    CONDUCTOR_QUEUE,
    HEARTBEAT_EXPIRES,
    HEARTBEAT_QUEUE,
    celery_config,
    volume_queue,
)
from cloud.observability import metrics, request_id  # noqa: F401 (their signal handlers)
from cloud.observability.logs import logging_config
from cloud.payloads import Payload, PayloadError
from cloud.volumeworker.backends import backend_for
from cloud.volumeworker.config import VolumeConfig
from cloud.volumeworker.manager import VolumeManager

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)
config = VolumeConfig.from_env()

app = Celery(f"stratus-volume-{config.backend}")
app.conf.update(celery_config(host=True))
app.conf.task_default_queue = volume_queue(config.backend)
app.conf.include = ["cloud.volumeworker.tasks"]

_manager: VolumeManager | None = None
_stopping = threading.Event()


def send_to_conductor(task_name: str, payload: Payload) -> None:
    options: dict[str, Any] = {"queue": CONDUCTOR_QUEUE}
    if task_name == "conductor.volume_backend_heartbeat":
        options = {"queue": HEARTBEAT_QUEUE, "expires": HEARTBEAT_EXPIRES}
    app.send_task(task_name, args=[payload.to_dict(config.payload_version)], **options)


def read(cls: type[P], data: dict[str, Any]) -> P:
    try:
        return cls.from_dict(data, speaks=config.payload_version)
    except PayloadError:
        log.exception("volume backend %s: cannot read %s", config.backend, data)
        raise


def manager() -> VolumeManager:
    global _manager
    if _manager is None:
        _manager = VolumeManager(config, backend_for(config), send_to_conductor)
    return _manager


def _heartbeats() -> None:
    while not _stopping.is_set():
        try:
            manager().heartbeat()
        except Exception:  # noqa: BLE001 - one failed report must not end the loop
            log.exception("volume backend %s heartbeat", config.backend)
        _stopping.wait(config.heartbeat_interval)


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    logging.config.dictConfig(logging_config())


@signals.worker_ready.connect
def _start(**_: Any) -> None:
    manager().backend.start()
    threading.Thread(target=_heartbeats, name="heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    _stopping.set()
    if _manager is not None:
        _manager.backend.stop()
