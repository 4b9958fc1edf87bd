"""The network controller's tasks (queue `network`): read the payload, call the
controller. Task names are part of the message format (cloud.messaging)."""

from typing import Any

from django.conf import settings

from cloud.celery import DATABASE_RETRY, app
from cloud.messaging import (
    NETWORK_AGENT_HEARTBEAT,
    NETWORK_PORT_STATUS,
    NETWORK_SYNC_FLOATING_IP,
    NETWORK_SYNC_NETWORK,
    NETWORK_SYNC_PORT,
    NETWORK_SYNC_SECURITY_GROUP,
)
from cloud.network import controller
from cloud.payloads import AgentReport, NetworkSync, PortStatus


def _sync(data: dict[str, Any]) -> NetworkSync:
    return NetworkSync.from_dict(data, speaks=settings.PAYLOAD_VERSION_PIN)


@app.task(**DATABASE_RETRY, name=NETWORK_SYNC_PORT)
def sync_port(payload: dict[str, Any]) -> None:
    controller.port_sync(port_id=_sync(payload).resource_id)


@app.task(**DATABASE_RETRY, name=NETWORK_SYNC_NETWORK)
def sync_network(payload: dict[str, Any]) -> None:
    sync = _sync(payload)
    controller.network_sync(network_id=sync.resource_id, hosts=sync.hosts)


@app.task(**DATABASE_RETRY, name=NETWORK_SYNC_SECURITY_GROUP)
def sync_security_group(payload: dict[str, Any]) -> None:
    controller.security_group_sync(group_id=_sync(payload).resource_id)


@app.task(**DATABASE_RETRY, name=NETWORK_SYNC_FLOATING_IP)
def sync_floating_ip(payload: dict[str, Any]) -> None:
    controller.floating_ip_sync(floating_ip_id=_sync(payload).resource_id)


@app.task(**DATABASE_RETRY, name=NETWORK_PORT_STATUS)
def port_status(payload: dict[str, Any]) -> None:
    controller.port_status_report(report=PortStatus.from_dict(payload))


@app.task(**DATABASE_RETRY, name=NETWORK_AGENT_HEARTBEAT)
def agent_heartbeat(payload: dict[str, Any]) -> None:
    controller.agent_heartbeat(report=AgentReport.from_dict(payload))
