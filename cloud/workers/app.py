"""The compute worker's Celery app: one per host, queue `compute.<host>`, no Django.

Start it with a solo (or threads) pool so the libvirt connection lives in
the one process that serves the queue:
    celery -A cloud.workers.app worker -P solo -Q compute.<host>
"""

import logging
import logging.config
from typing import Any, TypeVar

from celery import Celery, signals

from cloud.messaging import (
    CONDUCTOR_QUEUE,
    HEARTBEAT_EXPIRES,
    HEARTBEAT_QUEUE,
    celery_config,
    compute_queue,
)
from cloud.observability import metrics, request_id  # noqa: F401 (their signal handlers)
from cloud.observability.logs import logging_config
from cloud.payloads import Payload, PayloadError
from cloud.workers.config import ComputeConfig
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.libvirt_driver import LibvirtDriver

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)
config = ComputeConfig.from_env()

app = Celery(f"stratus-compute-{config.host}")
app.conf.update(celery_config(compute=True))
app.conf.task_default_queue = compute_queue(config.host)
app.conf.include = ["cloud.workers.tasks"]

_manager: ComputeManager | None = None


def send_to_conductor(task_name: str, payload: Payload) -> None:
    options: dict[str, Any] = {"queue": CONDUCTOR_QUEUE}
    if task_name == "conductor.compute_heartbeat":
        options = {"queue": HEARTBEAT_QUEUE, "expires": HEARTBEAT_EXPIRES}
    elif task_name == "conductor.sync_power_states":
        # The next report says the same, fresher: an old one is not worth handling.
        options["expires"] = config.power_sync_interval
    app.send_task(task_name, args=[payload.to_dict(config.payload_version)], **options)


def read(cls: type[P], data: dict[str, Any]) -> P:
    """A message as this host reads it, in the version it speaks (a pinned host refuses
    what its version could not have read: the control plane should not have sent it)."""
    try:
        return cls.from_dict(data, speaks=config.payload_version)
    except PayloadError:
        log.exception("%s: cannot read %s", config.host, data)
        raise


def manager() -> ComputeManager:
    global _manager
    if _manager is None:
        driver = LibvirtDriver(
            config.libvirt_uri,
            config.instances_path,
            config.disk_gb,
            console_address=config.console_address,
            serial_ports=config.serial_ports,
        )
        _manager = ComputeManager(config, driver, send_to_conductor)
    return _manager


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    """LOG_FORMAT (plain or json) and LOG_LEVEL, with the request id on every line."""
    logging.config.dictConfig(logging_config())


@signals.worker_ready.connect
def _start(**_: Any) -> None:
    manager().start()


@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    if _manager is not None:
        _manager.stop()
