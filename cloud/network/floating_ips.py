"""Floating IPs: an address of an external network (held by a port there, so the
external subnet's IPAM hands it out), mapped by NAT to a fixed address of a port. The
agent of the port's host sets the NAT (network_agent.floating_ip_set) and removes it
(floating_ip_unset, sent here with the old mapping, which the row no longer holds)."""

from django.db import transaction

from cloud import rpc
from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.identity.context import RequestContext
from cloud.messaging import AGENT_FLOATING_IP_UNSET
from cloud.network import notify
from cloud.network.choices import DEVICE_OWNER_FLOATINGIP
from cloud.network.models import FloatingIP, Network, Port
from cloud.network.quotas import quota_take
from cloud.network.selectors import uuid_or_none
from cloud.payloads import FloatingIPMapping


def _target(
    *, context: RequestContext, port_id: str, fixed_ip_address: str | None, project_id: str
):
    """The port (the floating IP's project's) and which of its addresses to map."""
    found = uuid_or_none(port_id)
    port = Port.objects.filter(id=found, project_id=project_id).first() if found else None
    if port is None:
        raise NotFound(f"Port {port_id} could not be found.", code="PortNotFound")
    addresses = [a.ip_address for a in port.fixed_ips.all() if ":" not in a.ip_address]
    if fixed_ip_address is None:
        if not addresses:
            raise BadRequest(
                f"Bad floatingip request: Port {port_id} does not have any IPv4 address."
            )
        return port, addresses[0]
    if fixed_ip_address not in addresses:
        raise BadRequest(
            f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed_ip_address}."
        )
    return port, fixed_ip_address


def _unset(floating: FloatingIP) -> None:
    """Tell the old port's host to drop the NAT (before the row forgets it)."""
    port = floating.port
    if port is None or not port.binding_host or not floating.fixed_ip_address:
        return
    rpc.cast_network_agent(
        port.binding_host,
        AGENT_FLOATING_IP_UNSET,
        FloatingIPMapping(
            floating_ip_id=str(floating.id),
            floating_ip_address=floating.floating_ip_address,
            floating_network_id=str(floating.floating_network_id),
            host=port.binding_host,
            port_id=str(port.id),
            fixed_ip_address=floating.fixed_ip_address,
            network_id=str(port.network_id),
        ),
    )


@transaction.atomic
def floating_ip_create(
    *,
    context: RequestContext,
    project_id: str,
    floating_network: Network,
    floating_ip_address: str | None = None,
    subnet_id: str | None = None,
    port_id: str | None = None,
    fixed_ip_address: str | None = None,
    description: str = "",
) -> FloatingIP:
    """An address of an external network for the project, mapped to a port when one is
    named."""
    from cloud.network.services import port_create

    if not floating_network.external:
        raise BadRequest(
            f"Bad floatingip request: Network {floating_network.id} is not a valid external "
            f"network."
        )
    quota_take(context=context, project_id=project_id, resource="floatingip")
    fixed = None
    if floating_ip_address:
        fixed = [{"ip_address": floating_ip_address}]
        if subnet_id:
            fixed[0]["subnet_id"] = subnet_id
    elif subnet_id:
        fixed = [{"subnet_id": subnet_id}]
    holder = port_create(
        context=RequestContext(
            user_id=context.user_id,
            user_name=context.user_name,
            project_id="",
            project_name="",
            roles=["admin"],
        ),
        network=floating_network,
        project_id=floating_network.project_id,
        fixed_ips=fixed,
        device_owner=DEVICE_OWNER_FLOATINGIP,
    )
    address = next(iter(holder.fixed_ips.all()), None)
    if address is None:
        raise Conflict(
            f"No more IP addresses available on network {floating_network.id}.",
            code="IpAddressGenerationFailure",
        )
    floating = FloatingIP.objects.create(
        project_id=project_id,
        floating_network=floating_network,
        floating_port=holder,
        floating_ip_address=address.ip_address,
        description=description,
    )
    holder.device_id = str(floating.id)
    holder.save(update_fields=["device_id"])
    if port_id:
        floating.port, floating.fixed_ip_address = _target(
            context=context,
            port_id=port_id,
            fixed_ip_address=fixed_ip_address,
            project_id=project_id,
        )
        _fixed_taken(floating)
        floating.save()
        notify.floating_ip_changed(str(floating.id))
    return floating


def _fixed_taken(floating: FloatingIP) -> None:
    other = FloatingIP.objects.filter(
        port=floating.port, fixed_ip_address=floating.fixed_ip_address
    ).exclude(pk=floating.pk)
    if other.exists():
        raise Conflict(
            f"Cannot associate floating IP {floating.floating_ip_address} ({floating.id}) with "
            f"port {floating.port_id} using fixed IP {floating.fixed_ip_address}, as that fixed "
            f"IP already has a floating IP on external network {floating.floating_network_id}.",
            code="FloatingIPPortAlreadyAssociated",
        )


@transaction.atomic
def floating_ip_update(
    *,
    context: RequestContext,
    floating: FloatingIP,
    port_id: str | None,
    fixed_ip_address: str | None = None,
    description: str | None = None,
) -> FloatingIP:
    """Map to a port (`port_id`), or unmap (`port_id` None)."""
    floating = (
        FloatingIP.objects.select_for_update(of=("self",))
        .select_related("port")
        .get(pk=floating.pk)
    )
    _unset(floating)
    if port_id:
        floating.port, floating.fixed_ip_address = _target(
            context=context,
            port_id=port_id,
            fixed_ip_address=fixed_ip_address,
            project_id=floating.project_id,
        )
        _fixed_taken(floating)
    else:
        floating.port, floating.fixed_ip_address = None, None
        floating.status = "DOWN"
    if description is not None:
        floating.description = description
    floating.revision_number += 1
    floating.save()
    if floating.port_id:
        notify.floating_ip_changed(str(floating.id))
    return floating


@transaction.atomic
def floating_ip_delete(*, context: RequestContext, floating: FloatingIP) -> None:
    floating = (
        FloatingIP.objects.select_for_update(of=("self",))
        .select_related("port")
        .get(pk=floating.pk)
    )
    _unset(floating)
    holder = floating.floating_port
    floating.delete()
    holder.delete()


def floating_ip_find_for_server(*, context: RequestContext, address: str) -> FloatingIP:
    """The project's floating IP with that address (Nova's addFloatingIp)."""
    found = FloatingIP.objects.filter(
        floating_ip_address=address, project_id=context.project_id
    ).first()
    if found is None:
        raise NotFound(f"floating IP not found: {address}")
    return found
