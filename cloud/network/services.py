"""Writes of networks, subnets and ports (Neutron's core resources), each in one
transaction: quota, VLAN id and addresses are taken with the rows that use them, and
a failure leaves nothing written. The controller hears of each change after the
commit (cloud.network.notify)."""

import ipaddress
import random
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.api.parsing import is_uuid
from cloud.identity.context import RequestContext
from cloud.identity.policy import PolicyDenied
from cloud.network import ipam, notify, vlans
from cloud.network.choices import DEVICE_OWNER_COMPUTE, NetworkType
from cloud.network.models import IPAllocation, Network, Port, Subnet
from cloud.network.quotas import quota_take
from cloud.network.security_groups import groups_for_port

MAC_ATTEMPTS = 16


def _bump(row) -> None:
    row.revision_number += 1


def _apply_changes(row, changes: dict[str, Any]) -> None:
    """An update's checked attributes onto the (locked) row, saved with its next revision."""
    for key, value in changes.items():
        setattr(row, key, value)
    _bump(row)
    row.save()


def _owner(context: RequestContext, project_id: str | None) -> str:
    """The project a new row belongs to: the caller's, or any for an admin."""
    if project_id and project_id != context.project_id:
        if not context.is_admin:
            raise PolicyDenied()
        return project_id
    if not context.project_id:
        raise BadRequest("A project-scoped token is required.")
    return context.project_id


def _require_owner(context: RequestContext, project_id: str, what: str) -> None:
    if not context.is_admin and project_id != context.project_id:
        raise PolicyDenied()


# -- networks ------------------------------------------------------------------------


@transaction.atomic
def network_create(
    *,
    context: RequestContext,
    name: str = "",
    description: str = "",
    project_id: str | None = None,
    admin_state_up: bool = True,
    shared: bool = False,
    external: bool = False,
    mtu: int | None = None,
    port_security_enabled: bool = True,
    network_type: str | None = None,
    physical_network: str | None = None,
    segmentation_id: int | None = None,
) -> Network:
    """A network on a VLAN: the one an admin names (provider attributes), else the next
    free id of the configured ranges (503 when none is left)."""
    owner = _owner(context, project_id)
    quota_take(context=context, project_id=owner, resource="network")
    if network_type not in (None, NetworkType.VLAN, NetworkType.FLAT):
        raise BadRequest(
            f"Invalid input for operation: network_type value '{network_type}' not supported."
        )
    network = Network.objects.create(
        project_id=owner,
        name=name,
        description=description,
        admin_state_up=admin_state_up,
        shared=shared,
        external=external,
        mtu=mtu or settings.NETWORK_MTU,
        port_security_enabled=port_security_enabled,
        network_type=network_type or NetworkType.VLAN,
    )
    if network_type == NetworkType.FLAT:
        if segmentation_id is not None:
            raise BadRequest(
                "Invalid input for operation: segmentation_id is not allowed for flat."
            )
        network.physical_network = physical_network or vlans.default_physical_network()
        if network.physical_network not in vlans.physical_networks():
            raise BadRequest(
                f"Invalid input for operation: physical_network '{network.physical_network}' "
                f"unknown for flat provider network."
            )
        if Network.objects.filter(
            network_type=NetworkType.FLAT, physical_network=network.physical_network
        ).exists():
            raise Conflict(
                f"Unable to create the flat network. Physical network "
                f"{network.physical_network} is in use.",
                code="FlatNetworkInUse",
            )
    elif segmentation_id is not None:
        vlans.vlan_reserve(
            network=network,
            physical_network=physical_network or vlans.default_physical_network() or "",
            vlan_id=segmentation_id,
        )
    elif physical_network is not None and network_type is None:
        raise BadRequest("Invalid input for operation: physical_network needs network_type.")
    else:
        vlans.vlan_allocate(network=network)
    try:
        with transaction.atomic():
            network.save()
    except IntegrityError:
        raise Conflict(
            f"Unable to create the network. The VLAN {network.segmentation_id} on physical "
            f"network {network.physical_network} is in use.",
            code="VlanIdInUse",
        ) from None
    return network


@transaction.atomic
def network_update(
    *, context: RequestContext, network: Network, changes: dict[str, Any]
) -> Network:
    """Name, description, admin state, MTU, port security; shared and external (admin)."""
    network = Network.objects.select_for_update().get(pk=network.pk)
    _require_owner(context, network.project_id, "network")
    _apply_changes(network, changes)
    notify.network_changed(str(network.id))
    return network


@transaction.atomic
def network_delete(*, context: RequestContext, network: Network) -> None:
    """409 while any port but the platform's own (DHCP) is on it; its subnets go with it
    and its VLAN id goes back to the pool."""
    network = Network.objects.select_for_update().get(pk=network.pk)
    _require_owner(context, network.project_id, "network")
    in_use = network.ports.exclude(device_owner="network:dhcp")
    if in_use.exists():
        raise Conflict(
            f"Unable to complete operation on network {network.id}. There are one or more "
            f"ports still in use on the network.",
            code="NetworkInUse",
        )
    dhcp_hosts = list(network.ports.values_list("binding_host", flat=True))
    IPAllocation.objects.filter(network=network).delete()
    network.ports.all().delete()
    network.subnets.all().delete()
    network_id = str(network.id)
    network.delete()
    notify.network_changed(network_id, hosts=[h for h in dhcp_hosts if h])


# -- subnets -------------------------------------------------------------------------


@transaction.atomic
def subnet_create(
    *,
    context: RequestContext,
    network: Network,
    cidr: str,
    ip_version: int = 4,
    name: str = "",
    description: str = "",
    project_id: str | None = None,
    gateway_ip: str | None | bool = True,
    allocation_pools: list | None = None,
    dns_nameservers: list | None = None,
    host_routes: list | None = None,
    enable_dhcp: bool = True,
) -> Subnet:
    """A subnet of a network its caller owns: the gateway defaults to the first address
    (`gateway_ip` None: no gateway), the pools to the rest."""
    network = Network.objects.select_for_update().get(pk=network.pk)
    _require_owner(context, network.project_id, "network")
    owner = _owner(context, project_id)
    quota_take(context=context, project_id=owner, resource="subnet")
    net = ipam.cidr_parse(cidr)
    if ip_version not in (4, 6) or net.version != ip_version:
        raise BadRequest(
            f"Invalid input for operation: cidr {cidr} does not match ip_version {ip_version}."
        )
    for other in network.subnets.all():
        if net.overlaps(ipaddress.ip_network(other.cidr)):
            raise BadRequest(
                f"Invalid input for operation: Requested subnet with cidr: {cidr} for network: "
                f"{network.id} overlaps with another subnet."
            )
    if gateway_ip is True:
        gateway = ipam.usable_range(net)[0]
    elif gateway_ip is None:
        gateway = None
    else:
        gateway = ipam.address_parse(gateway_ip, "gateway_ip")
        if gateway not in net:
            raise BadRequest(
                f"Invalid input for operation: Gateway IP {gateway} is not in subnet {cidr}."
            )
    pools = (
        ipam.default_pools(net, gateway)
        if allocation_pools is None
        else ipam.pools_parse(allocation_pools, net, gateway)
    )
    servers = []
    for server in dns_nameservers or []:
        servers.append(str(ipam.address_parse(server, "dns_nameservers")))
    if len(set(servers)) != len(servers):
        raise BadRequest("Duplicate nameserver in dns_nameservers.")
    subnet = Subnet.objects.create(
        network=network,
        project_id=owner,
        name=name,
        description=description,
        ip_version=ip_version,
        cidr=str(net),
        gateway_ip=str(gateway) if gateway is not None else None,
        enable_dhcp=enable_dhcp,
        allocation_pools=pools,
        dns_nameservers=servers,
        host_routes=host_routes or [],
    )
    notify.network_changed(str(network.id))
    return subnet


@transaction.atomic
def subnet_update(*, context: RequestContext, subnet: Subnet, changes: dict[str, Any]) -> Subnet:
    """Name, description, DHCP on/off, DNS servers."""
    subnet = Subnet.objects.select_for_update().get(pk=subnet.pk)
    _require_owner(context, subnet.project_id, "subnet")
    if "dns_nameservers" in changes:
        changes["dns_nameservers"] = [
            str(ipam.address_parse(s, "dns_nameservers")) for s in changes["dns_nameservers"]
        ]
    _apply_changes(subnet, changes)
    notify.network_changed(str(subnet.network_id))
    return subnet


@transaction.atomic
def subnet_delete(*, context: RequestContext, subnet: Subnet) -> None:
    """409 while a port (but the platform's DHCP ports) has an address of it."""
    subnet = Subnet.objects.select_for_update().get(pk=subnet.pk)
    _require_owner(context, subnet.project_id, "subnet")
    if subnet.allocations.exclude(port__device_owner="network:dhcp").exists():
        raise Conflict(
            f"Unable to complete operation on subnet {subnet.id}: One or more ports have an "
            f"IP allocation from this subnet.",
            code="SubnetInUse",
        )
    subnet.allocations.all().delete()
    network_id = str(subnet.network_id)
    subnet.delete()
    notify.network_changed(network_id)


# -- ports ---------------------------------------------------------------------------


def _mac_parse(value: object) -> str:
    text = str(value).lower()
    parts = text.split(":")
    if len(parts) != 6 or not all(
        len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts
    ):
        raise BadRequest(
            f"Invalid input for mac_address. Reason: '{value}' is not a valid MAC address."
        )
    if "13579bdf".find(parts[0][1]) >= 0:
        raise BadRequest(f"Invalid input for mac_address. Reason: '{value}' is a multicast MAC.")
    return text


def _mac_random() -> str:
    base = settings.NETWORK_BASE_MAC.lower().split(":")
    return ":".join(base[:3] + [f"{random.randrange(256):02x}" for _ in range(3)])


def _fixed_ips_take(*, port: Port, network: Network, fixed_ips: list[dict] | None) -> None:
    """The port's addresses: the requested ones (by subnet, address or both), else one
    from the first IPv4 subnet with room (then IPv6)."""
    subnets = list(network.subnets.order_by("ip_version", "created_at", "id"))
    if fixed_ips is None:
        last_full = None
        for subnet in subnets:
            try:
                ipam.ip_allocate_any(port=port, subnet=subnet)
                return
            except Conflict as exc:
                last_full = exc
        if last_full is not None:
            raise last_full
        return
    by_id = {str(s.id): s for s in subnets}
    for entry in fixed_ips:
        if (
            not isinstance(entry, dict)
            or not set(entry) <= {"subnet_id", "ip_address"}
            or not entry
        ):
            raise BadRequest(
                "Invalid input for fixed_ips: each entry needs subnet_id or ip_address."
            )
        subnet = None
        if "subnet_id" in entry:
            subnet = by_id.get(str(entry["subnet_id"]))
            if subnet is None:
                raise BadRequest(
                    f"Invalid input for operation: Failed to create port on network "
                    f"{network.id}, because fixed_ips included invalid subnet "
                    f"{entry['subnet_id']}."
                )
        if "ip_address" in entry:
            if subnet is None:
                subnet = ipam.subnet_for_address(subnets, entry["ip_address"])
                if subnet is None:
                    raise BadRequest(
                        f"Invalid input for operation: IP address {entry['ip_address']} is not "
                        f"a valid IP for any subnet of network {network.id}."
                    )
            ipam.ip_allocate_given(port=port, subnet=subnet, ip_address=entry["ip_address"])
        else:
            ipam.ip_allocate_any(port=port, subnet=subnet)


def network_usable(*, context: RequestContext, network: Network) -> None:
    """Ports go on one's own networks, shared ones, or (admin) any."""
    if context.is_admin or network.project_id == context.project_id or network.shared:
        return
    raise PolicyDenied()


@transaction.atomic
def port_create(
    *,
    context: RequestContext,
    network: Network,
    name: str = "",
    description: str = "",
    project_id: str | None = None,
    mac_address: str | None = None,
    fixed_ips: list[dict] | None = None,
    admin_state_up: bool = True,
    device_id: str = "",
    device_owner: str = "",
    security_groups: list[str] | None = None,
    port_security_enabled: bool | None = None,
    allowed_address_pairs: list | None = None,
    binding_host: str = "",
    delete_with_device: bool = False,
    dns_name: str = "",
) -> Port:
    """A port with its MAC (given or made), its addresses and its security groups (the
    project's `default` when none are named), in one transaction."""
    network_usable(context=context, network=network)
    owner = _owner(context, project_id)
    if not device_owner.startswith("network:"):
        quota_take(context=context, project_id=owner, resource="port")
    security = (
        network.port_security_enabled if port_security_enabled is None else port_security_enabled
    )
    groups = groups_for_port(
        context=context,
        project_id=owner,
        requested=security_groups,
        port_security=security,
        device_owner=device_owner,
    )
    port = Port(
        network=network,
        project_id=owner,
        name=name,
        description=description,
        admin_state_up=admin_state_up,
        device_id=device_id,
        device_owner=device_owner,
        port_security_enabled=security,
        allowed_address_pairs=allowed_address_pairs or [],
        binding_host=binding_host,
        delete_with_device=delete_with_device,
        dns_name=dns_name,
    )
    _mac_take(port, mac_address)
    _fixed_ips_take(port=port, network=network, fixed_ips=fixed_ips)
    port.security_groups.set(groups)
    if port.binding_host or port.device_id:
        notify.port_changed(port)
    return port


def _mac_take(port: Port, mac_address: str | None) -> None:
    """Save the port with its MAC; a taken one is a 409 when asked for, else another."""
    for _ in range(MAC_ATTEMPTS):
        port.mac_address = _mac_parse(mac_address) if mac_address else _mac_random()
        try:
            with transaction.atomic():
                port.save()
            return
        except IntegrityError:
            if mac_address:
                raise Conflict(
                    f"Unable to complete operation for network {port.network_id}. The mac "
                    f"address {mac_address} is in use.",
                    code="MacAddressInUse",
                ) from None
    raise Conflict("Unable to generate a unique MAC address.", code="MacAddressGenerationFailure")


@transaction.atomic
def port_update(*, context: RequestContext, port: Port, changes: dict[str, Any]) -> Port:
    """Name, description, admin state, device, binding host (admin), security groups,
    port security, allowed address pairs, and the fixed IPs (the new list replaces the
    old: addresses kept stay, new ones are taken, the rest are freed)."""
    port = Port.objects.select_for_update(of=("self",)).select_related("network").get(pk=port.pk)
    _require_owner(context, port.project_id, "port")
    old_host = port.binding_host
    if "fixed_ips" in changes:
        _fixed_ips_replace(port, changes.pop("fixed_ips"))
    if "security_groups" in changes or "port_security_enabled" in changes:
        security = changes.get("port_security_enabled", port.port_security_enabled)
        requested = changes.pop("security_groups", None)
        if requested is None and security:
            requested = [str(g.id) for g in port.security_groups.all()] or None
        groups = groups_for_port(
            context=context,
            project_id=port.project_id,
            requested=requested,
            port_security=security,
            device_owner=port.device_owner,
        )
        before = {str(g.id) for g in port.security_groups.all()}
        port.security_groups.set(groups)
        # The groups it left no longer count its addresses: the ports whose rules name
        # them as remote are re-sent (those it is in now are, with the port itself).
        for group_id in sorted(before - {str(g.id) for g in groups}):
            notify.security_group_changed(group_id)
    if "mac_address" in changes:
        mac = changes.pop("mac_address")
        if port.binding_host and _mac_parse(mac) != port.mac_address:
            raise Conflict(f"Port {port.id} is bound: its MAC cannot change.", code="PortBound")
        _mac_take(port, mac)
    _apply_changes(port, changes)
    if old_host and old_host != port.binding_host:
        notify.port_unbound(port, old_host)
    notify.port_changed(port)
    return port


def _fixed_ips_replace(port: Port, fixed_ips: list[dict]) -> None:
    if not isinstance(fixed_ips, list):
        raise BadRequest("Invalid input for fixed_ips: expected a list.")
    current = list(port.fixed_ips.all())
    keep, wanted = set(), []
    for entry in fixed_ips:
        match = next(
            (
                c
                for c in current
                if isinstance(entry, dict)
                and entry.get("ip_address", c.ip_address) == c.ip_address
                and str(entry.get("subnet_id", c.subnet_id)) == str(c.subnet_id)
                and "ip_address" in entry
            ),
            None,
        )
        if match is not None:
            keep.add(match.pk)
        else:
            wanted.append(entry)
    IPAllocation.objects.filter(port=port).exclude(pk__in=keep).delete()
    if wanted:
        _fixed_ips_take(port=port, network=port.network, fixed_ips=wanted)


def _drop(port: Port) -> None:
    """Delete the port (its addresses go with it; floating IPs on it are released) and
    keep its id on the object, for the messages about it. Its groups lose a member: the
    ports whose rules name them as remote are re-sent without its addresses."""
    port_id = port.id
    groups = [str(g) for g in port.security_groups.values_list("id", flat=True)]
    port.floating_ips.update(port=None, fixed_ip_address=None)
    port.delete()
    port.id = port_id
    for group_id in groups:
        notify.security_group_changed(group_id)


@transaction.atomic
def port_delete(*, context: RequestContext, port: Port) -> None:
    """The port and its addresses; its host's agent unplugs it."""
    port = Port.objects.select_for_update().get(pk=port.pk)
    _require_owner(context, port.project_id, "port")
    if port.device_owner == "network:dhcp" and not context.is_admin:
        raise Conflict(f"Port {port.id} is the network's DHCP port.", code="PortInUse")
    host = port.binding_host
    _drop(port)
    notify.port_unbound(port, host)
    notify.network_changed(str(port.network_id))


# -- for the compute API and the conductor ---------------------------------------------


def server_port_lookup(*, context: RequestContext, port_id: str) -> Port:
    """A port the user passes to a server: theirs, and used by no other device."""
    port = (
        Port.objects.filter(id=port_id).select_related("network").first()
        if _is_uuid(port_id)
        else None
    )
    if port is None or (not context.is_admin and port.project_id != context.project_id):
        raise NotFound(f"Port id {port_id} could not be found.")
    if port.device_id:
        raise Conflict(f"Port {port_id} is still in use.", code="PortInUse")
    return port


def _is_uuid(value: str) -> bool:
    return is_uuid(str(value))


def ports_bind_host(*, instance_uuid: str, host: str) -> list[Port]:
    """Bind the instance's ports to the host chosen for it (the conductor, before the
    build is cast): the controller wires them there."""
    with transaction.atomic(savepoint=False):  # the caller's transaction, no savepoint
        ports = list(
            Port.objects.select_for_update()
            .filter(device_id=instance_uuid)
            .select_related("network")
            .order_by("created_at", "id")
        )
        for port in ports:
            old = port.binding_host
            if old == host:
                continue
            port.binding_host = host
            port.device_owner = port.device_owner or DEVICE_OWNER_COMPUTE
            _bump(port)
            port.save(
                update_fields=["binding_host", "device_owner", "revision_number", "updated_at"]
            )
            if old:
                notify.port_unbound(port, old)
            notify.port_changed(port)
    return ports


def ports_release(*, instance_uuid: str) -> None:
    """The server is gone: its ports made for it are deleted, the ones the user passed
    in are unbound and kept (Nova's preserve_on_delete)."""
    with transaction.atomic(savepoint=False):  # the caller's transaction, no savepoint
        ports = list(
            Port.objects.select_for_update().filter(device_id=instance_uuid).order_by("id")
        )
        for port in ports:
            _release(port)


def port_detach(*, context: RequestContext, instance_uuid: str, port_id: str) -> None:
    """os-interface DELETE: the port leaves the server (deleted when made for it)."""
    with transaction.atomic():
        port = (
            Port.objects.select_for_update().filter(id=port_id, device_id=instance_uuid).first()
            if _is_uuid(port_id)
            else None
        )
        if port is None:
            raise NotFound(f"Port {port_id} is not attached")
        _release(port)


def _release(port: Port) -> None:
    """The (locked) port leaves its server: deleted when it was made for the server,
    else unbound and kept; its host unwires it."""
    host = port.binding_host
    if port.delete_with_device:
        _drop(port)
    else:
        port.device_id, port.device_owner, port.binding_host = "", "", ""
        port.status = "DOWN"
        _bump(port)
        port.save()
    notify.port_unbound(port, host)
    notify.network_changed(str(port.network_id))


def port_attach(*, port: Port, instance_uuid: str, host: str) -> Port:
    """Give a (checked) port to a server, bound to its host when it has one."""
    port.device_id = instance_uuid
    port.device_owner = DEVICE_OWNER_COMPUTE
    port.binding_host = host
    _bump(port)
    port.save()
    notify.port_changed(port)
    return port
