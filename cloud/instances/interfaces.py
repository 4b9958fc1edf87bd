"""os-interface on the api's side: a port attached to or detached from a server, and
the server's host asked to plug it into (or out of) the guest.

The network app makes or takes the port and binds it to the server's host, whose
network agent wires it; then the host is called (synchronously, as Nova's
attach_interface is) to add the interface to the guest's domain: live and
persistent on QEMU, the persistent definition on the test hypervisor. When the host
refuses or does not answer, the attach is undone (a port made for it is deleted, a
port passed in is unbound again) and the caller gets a 409 or 504; a failed detach
leaves the port attached. A host too old to be asked (payload 1.9) gets the
interface at the guest's next build, rebuild or move.
"""

import logging

from django.conf import settings

from cloud.api.errors import Conflict, GatewayTimeout
from cloud.identity.context import RequestContext
from cloud.instances.models import Instance
from cloud.network import servers as network
from cloud.payloads import InterfaceRequest, InterfaceResult
from cloud.rpc import HostTooOld, HostUnreachable, call_compute

log = logging.getLogger(__name__)


def _call_host(instance: Instance, task: str, vif: dict) -> InterfaceResult | None:
    """The host's answer; None when the host is too old to be asked."""
    try:
        answer = call_compute(
            instance.host,
            task,
            InterfaceRequest(instance_uuid=str(instance.uuid), vif=vif),
            timeout=settings.SYNC_CALL_TIMEOUT,
        )
    except HostTooOld as exc:
        log.info("%s: %s", instance.uuid, exc)
        return None
    return InterfaceResult.from_dict(answer)


def server_interface_attach(
    *,
    context: RequestContext,
    instance: Instance,
    network_id: str | None,
    port_id: str | None,
    fixed_ip: str | None,
):
    """The port made (on `network_id`) or taken (`port_id`), bound to the server's
    host, and plugged into its guest."""
    uuid = str(instance.uuid)
    port = network.server_interface_attach(
        context=context,
        instance_uuid=uuid,
        host=instance.host or "",
        hostname=instance.hostname,
        network_id=network_id,
        port_id=port_id,
        fixed_ip=fixed_ip,
    )
    port = network.server_interface_get(instance_uuid=uuid, port_id=str(port.id))
    if not instance.host:
        return port
    try:
        answer = _call_host(instance, "compute.attach_interface", network.server_vif(port=port))
    except HostUnreachable as exc:
        network.server_interface_detach(context=context, instance_uuid=uuid, port_id=str(port.id))
        raise GatewayTimeout(str(exc)) from exc
    if answer is not None and not answer.done:
        network.server_interface_detach(context=context, instance_uuid=uuid, port_id=str(port.id))
        raise Conflict(f"Failed to attach network adapter device to {uuid}: {answer.message}")
    return port


def server_interface_detach(*, context: RequestContext, instance: Instance, port_id: str) -> None:
    """The port unplugged from the guest, then taken from the server (deleted when it
    was made for it)."""
    uuid = str(instance.uuid)
    port = network.server_interface_get(instance_uuid=uuid, port_id=port_id)
    if instance.host:
        try:
            answer = _call_host(instance, "compute.detach_interface", network.server_vif(port=port))
        except HostUnreachable as exc:
            raise GatewayTimeout(str(exc)) from exc
        if answer is not None and not answer.done:
            raise Conflict(f"Failed to detach network adapter device from {uuid}: {answer.message}")
    network.server_interface_detach(context=context, instance_uuid=uuid, port_id=port_id)
