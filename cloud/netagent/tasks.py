"""Network agent tasks: read the message, call the agent. Names are part of the format."""

from typing import Any

from cloud.messaging import (
    AGENT_FLOATING_IP_SET,
    AGENT_FLOATING_IP_UNSET,
    AGENT_NETWORK_SETUP,
    AGENT_NETWORK_TEARDOWN,
    AGENT_PORT_BIND,
    AGENT_PORT_UNBIND,
)
from cloud.netagent import convert
from cloud.netagent.app import agent, app, read
from cloud.payloads import (
    FloatingIPMapping,
    NetworkSetup,
    NetworkTeardown,
    PortBinding,
    PortUnbinding,
)


@app.task(name=AGENT_NETWORK_SETUP)
def network_setup(payload: dict[str, Any]) -> None:
    agent().network_setup(convert.network(read(NetworkSetup, payload)))


@app.task(name=AGENT_NETWORK_TEARDOWN)
def network_teardown(payload: dict[str, Any]) -> None:
    agent().network_teardown(read(NetworkTeardown, payload).network_id)


@app.task(name=AGENT_PORT_BIND)
def port_bind(payload: dict[str, Any]) -> None:
    msg = read(PortBinding, payload)
    agent().port_bind(convert.port(msg), convert.tag(convert.segment(msg)))


@app.task(name=AGENT_PORT_UNBIND)
def port_unbind(payload: dict[str, Any]) -> None:
    agent().port_unbind(read(PortUnbinding, payload).port_id)


@app.task(name=AGENT_FLOATING_IP_SET)
def floating_ip_set(payload: dict[str, Any]) -> None:
    agent().floating_ip_set(convert.floating_ip(read(FloatingIPMapping, payload)))


@app.task(name=AGENT_FLOATING_IP_UNSET)
def floating_ip_unset(payload: dict[str, Any]) -> None:
    agent().floating_ip_unset(read(FloatingIPMapping, payload).floating_ip_address)
