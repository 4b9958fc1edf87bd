"""What the compute API and the conductor ask of the network app for servers (Nova's
network API): resolve a create's `networks`, make or take the ports in the create's
transaction, bind them to the host the build goes to, attach and detach interfaces,
and free the ports when the server goes."""

import ipaddress
from dataclasses import dataclass

from django.db import transaction

from cloud.api.errors import BadRequest, Conflict, Forbidden, NotFound
from cloud.identity.context import RequestContext
from cloud.network import services
from cloud.network.choices import DEVICE_OWNER_COMPUTE
from cloud.network.models import Network, Port
from cloud.network.security_groups import security_group_find
from cloud.network.selectors import network_list, uuid_or_none


@dataclass(frozen=True)
class NicRequest:
    """One interface asked for: on a network (maybe with a fixed address), or a port."""

    network: Network | None = None
    port: Port | None = None
    fixed_ip: str | None = None
    # The groups (names or ids) of a port made for the server; None for the default.
    security_groups: list[str] | None = None


def _network_for(context: RequestContext, network_id: object) -> Network:
    found = uuid_or_none(str(network_id))
    network = network_list(context=context).filter(id=found).first() if found else None
    if network is None:
        raise BadRequest(f"Network {network_id} could not be found.")
    if network.external and not network.shared and not context.is_admin:
        raise Forbidden(
            f"It is not allowed to create an interface on external network {network.id}"
        )
    return network


def _auto(context: RequestContext) -> list[NicRequest]:
    """Nova's `auto`: the project's own network if it has exactly one, else the one
    shared network; several are a 409; none is no interface (there is no auto-allocated
    topology)."""
    usable = Network.objects.filter(external=False)
    own = list(usable.filter(project_id=context.project_id)[:2])
    candidates = own or list(usable.filter(shared=True)[:2])
    if len(candidates) > 1:
        raise Conflict("Multiple possible networks found, use a Network ID to be more specific.")
    return [NicRequest(network=n) for n in candidates]


def _groups_check(context: RequestContext, names: list[str]) -> list[str] | None:
    """The server's security groups: each one of the project's (400 otherwise)."""
    if not names:
        return None
    for name in names:
        if not security_group_find(project_id=context.project_id or "", key=name):
            raise BadRequest(f"Security group {name} not found for project {context.project_id}.")
    return list(dict.fromkeys(names))


def server_nics_resolve(
    *,
    context: RequestContext,
    networks: str | list[dict],
    max_count: int,
    security_groups: list[str] | None = None,
) -> list[NicRequest]:
    """The create's `networks` ("none", "auto" or a list of {uuid[, fixed_ip]} and
    {port}), checked: 400 for what cannot be found, 409 for a port in use."""
    groups = _groups_check(context, security_groups or [])
    nics = _nics_resolve(context=context, networks=networks, max_count=max_count)
    return [
        NicRequest(network=n.network, port=n.port, fixed_ip=n.fixed_ip, security_groups=groups)
        for n in nics
    ]


def _nics_resolve(
    *, context: RequestContext, networks: str | list[dict], max_count: int
) -> list[NicRequest]:
    if networks == "none":
        return []
    if networks == "auto":
        return _auto(context)
    nics = []
    for entry in networks:
        if not isinstance(entry, dict):
            raise BadRequest("Invalid input for field/attribute networks.")
        if entry.get("port"):
            if max_count > 1:
                raise BadRequest(
                    "Unable to launch multiple instances with a single configured port ID. "
                    "Please launch your instance one by one with different ports."
                )
            try:
                port = services.server_port_lookup(context=context, port_id=str(entry["port"]))
            except NotFound as exc:
                raise BadRequest(str(exc.detail)) from None
            nics.append(NicRequest(port=port))
            continue
        if not entry.get("uuid"):
            raise BadRequest("Invalid input for field/attribute networks: uuid or port needed.")
        network = _network_for(context, entry["uuid"])
        fixed_ip = entry.get("fixed_ip")
        if fixed_ip is not None:
            try:
                ipaddress.ip_address(str(fixed_ip))
            except ValueError:
                raise BadRequest(f"Invalid fixed IP address ({fixed_ip})") from None
            if max_count > 1:
                raise BadRequest("max_count cannot be greater than 1 if an fixed_ip is specified.")
        nics.append(NicRequest(network=network, fixed_ip=fixed_ip))
    return nics


def server_ports_create(
    *, context: RequestContext, instance_uuid: str, hostname: str, nics: list[NicRequest]
) -> None:
    """The server's ports, in the create's transaction (a full subnet or a taken fixed
    IP fails the whole create): made for it on networks, or the user's ports taken."""
    for nic in nics:
        if nic.port is not None:
            port = Port.objects.select_for_update().get(pk=nic.port.pk)
            if port.device_id:
                raise Conflict(f"Port {port.id} is still in use.")
            services.port_attach(port=port, instance_uuid=instance_uuid, host="")
            continue
        services.port_create(
            context=context,
            network=nic.network,
            fixed_ips=[{"ip_address": nic.fixed_ip}] if nic.fixed_ip else None,
            device_id=instance_uuid,
            device_owner=DEVICE_OWNER_COMPUTE,
            delete_with_device=True,
            dns_name=hostname,
            security_groups=nic.security_groups,
        )


def server_ports_bind(*, instance_uuid: str, host: str) -> None:
    """The build goes to `host`: its ports are bound there (the agent wires them)."""
    services.ports_bind_host(instance_uuid=instance_uuid, host=host)


def server_ports_release(*, instance_uuid: str) -> None:
    services.ports_release(instance_uuid=instance_uuid)


def server_vifs(*, instance_uuid: str) -> list[dict]:
    """The server's ports as the compute defines its interfaces (VifSpec dicts)."""
    from cloud.network.controller import vif_spec
    from cloud.network.selectors import instance_ports

    return [vif_spec(p) for p in instance_ports(instance_uuids=[instance_uuid])[instance_uuid]]


@transaction.atomic
def server_interface_attach(
    *,
    context: RequestContext,
    instance_uuid: str,
    host: str,
    hostname: str,
    network_id: str | None = None,
    port_id: str | None = None,
    fixed_ip: str | None = None,
) -> Port:
    """os-interface POST: a new port on a network, or the user's port, for the server."""
    if port_id:
        port = services.server_port_lookup(context=context, port_id=port_id)
        port = Port.objects.select_for_update().get(pk=port.pk)
        return services.port_attach(port=port, instance_uuid=instance_uuid, host=host)
    if not network_id:
        raise BadRequest("Either net_id or port_id must be given.")
    network = _network_for(context, network_id)
    port = services.port_create(
        context=context,
        network=network,
        fixed_ips=[{"ip_address": fixed_ip}] if fixed_ip else None,
        device_id=instance_uuid,
        device_owner=DEVICE_OWNER_COMPUTE,
        delete_with_device=True,
        dns_name=hostname,
        binding_host=host,
    )
    return port


def server_interface_detach(*, context: RequestContext, instance_uuid: str, port_id: str) -> None:
    services.port_detach(context=context, instance_uuid=instance_uuid, port_id=port_id)


def server_vif(*, port: Port) -> dict:
    """One of the server's ports as the compute plugs it (a VifSpec dict)."""
    from cloud.network.controller import vif_spec

    return vif_spec(port)


def server_interface_get(*, instance_uuid: str, port_id: str) -> Port:
    found = uuid_or_none(port_id)
    port = (
        Port.objects.filter(id=found, device_id=instance_uuid).prefetch_related("fixed_ips").first()
        if found
        else None
    )
    if port is None:
        raise NotFound(f"Port {port_id} is not attached")
    return port
