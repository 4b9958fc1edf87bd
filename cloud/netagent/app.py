"""The network agent's Celery app: one per host, queue `network.<host>`, no Django.

Start it with a solo pool, so that the host's changes are made one at a time:
    celery -A cloud.netagent.app worker -P solo -Q network.<host>
At start it brings up br-int and the trunk, re-syncs its host from its saved state,
and then reports itself alive every NETWORK_AGENT_HEARTBEAT seconds.
"""

import logging
import os
import threading
from datetime import UTC, datetime
from typing import Any, TypeVar

from celery import Celery, signals

from cloud.messaging import (
    HEARTBEAT_EXPIRES,
    NETWORK_AGENT_HEARTBEAT,
    NETWORK_PORT_STATUS,
    NETWORK_QUEUE,
    celery_config,
    network_agent_queue,
)
from cloud.netagent.agent import NetworkAgent
from cloud.netagent.config import AgentConfig
from cloud.payloads import AgentReport, Payload, PayloadError, PortStatus

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)
config = AgentConfig.from_env()
HEARTBEAT_INTERVAL = float(os.environ.get("NETWORK_AGENT_HEARTBEAT", "10"))
# How often it looks for guest devices to plug (a guest's tap appears when it starts).
POLL_INTERVAL = float(os.environ.get("NETWORK_AGENT_POLL_INTERVAL", "1"))

app = Celery(f"stratus-netagent-{config.host}")
app.conf.update(celery_config(host=True))
app.conf.task_default_queue = network_agent_queue(config.host)
app.conf.include = ["cloud.netagent.tasks"]

_agent: NetworkAgent | None = None
_stopping = threading.Event()
_started_at = datetime.now(UTC).isoformat()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def send(task_name: str, payload: Payload, **options: Any) -> None:
    app.send_task(
        task_name, args=[payload.to_dict(config.payload_version)], queue=NETWORK_QUEUE, **options
    )


def report_port(port_id: str, status: str, message: str) -> None:
    send(
        NETWORK_PORT_STATUS,
        PortStatus(
            port_id=port_id, host=config.host, status=status, message=message, sent_at=_now()
        ),
    )


def heartbeat() -> None:
    report = AgentReport(
        host=config.host,
        payload_version=config.payload_version,
        bridge=config.integration_bridge,
        started_at=_started_at,
        sent_at=_now(),
        capabilities={"dhcp": True, "security_groups": True, "nat": True},
    )
    send(NETWORK_AGENT_HEARTBEAT, report, expires=HEARTBEAT_EXPIRES)


def read(cls: type[P], data: dict[str, Any]) -> P:
    try:
        return cls.from_dict(data, speaks=config.payload_version)
    except PayloadError:
        log.exception("%s: cannot read %s", config.host, data)
        raise


def agent() -> NetworkAgent:
    global _agent
    if _agent is None:
        _agent = NetworkAgent(config, report_port)
    return _agent


def _every(what: str, interval: float, work) -> None:
    def loop() -> None:
        while not _stopping.is_set():
            try:
                work()
            except Exception:  # noqa: BLE001 - one failed round must not end the loop
                log.exception("network agent %s", what)
            _stopping.wait(interval)

    threading.Thread(target=loop, name=what, daemon=True).start()


@signals.worker_ready.connect
def _start(**_: Any) -> None:
    agent().start()
    _every("heartbeat", HEARTBEAT_INTERVAL, heartbeat)
    _every("guest devices", POLL_INTERVAL, agent().plug_guest_devices)


@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    _stopping.set()
