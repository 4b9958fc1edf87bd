"""IP address management in the database: subnets' pools, and fixed IPs given to ports.

An address is taken by inserting its IPAllocation row; the unique constraint on
(subnet, ip_address) makes the database the judge between concurrent ports. Each
attempt runs in a savepoint of the port's transaction: when another transaction took
(or is taking: PostgreSQL makes the insert wait for it) the same address, the insert
fails, the savepoint rolls back, and the next free address is tried, re-reading what
is taken. Candidates are picked at random among the first free ones, so concurrent
ports rarely collide at all.
"""

import ipaddress
import random
from collections.abc import Iterator

from django.db import IntegrityError, transaction

from cloud.api.errors import BadRequest, Conflict
from cloud.network.models import IPAllocation, Port, Subnet

# How many free candidates one attempt picks among, and how many attempts before the
# port gives up (each failed attempt means another port took that address meanwhile).
SPREAD = 16
ATTEMPTS = 64

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def cidr_parse(value: object) -> Net:
    """A subnet's CIDR, with no host bits set (400 otherwise, as Neutron)."""
    if not isinstance(value, str):
        raise BadRequest(f"Invalid input for cidr. Reason: '{value}' is not a valid IP subnet.")
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadRequest(
            f"Invalid input for cidr. Reason: '{value}' is not a valid IP subnet."
        ) from None
    if str(net) != value and "/" in value:
        raise BadRequest(
            f"Invalid input for cidr. Reason: '{value}' isn't a recognized IP subnet cidr, "
            f"'{net}' is recommended."
        )
    if "/" not in value:
        raise BadRequest(f"Invalid input for cidr. Reason: '{value}' is not a valid IP subnet.")
    return net


def address_parse(value: object, what: str) -> Address:
    if not isinstance(value, str):
        raise BadRequest(f"Invalid input for {what}. Reason: '{value}' is not a valid IP address.")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise BadRequest(
            f"Invalid input for {what}. Reason: '{value}' is not a valid IP address."
        ) from None


def usable_range(net: Net) -> tuple[Address, Address]:
    """The first and last addresses hosts may have (IPv4 keeps network and broadcast)."""
    if net.version == 4 and net.prefixlen < 31:
        return net.network_address + 1, net.broadcast_address - 1
    if net.version == 6 and net.prefixlen < 127:
        return net.network_address + 1, net.broadcast_address
    return net.network_address, net.broadcast_address


def default_pools(net: Net, gateway: Address | None) -> list[dict[str, str]]:
    """Every usable address except the gateway, as Neutron's default pools."""
    first, last = usable_range(net)
    pools = []
    if gateway is not None and first <= gateway <= last:
        if first < gateway:
            pools.append((first, gateway - 1))
        if gateway < last:
            pools.append((gateway + 1, last))
    else:
        pools.append((first, last))
    return [{"start": str(a), "end": str(b)} for a, b in pools]


def pools_parse(value: object, net: Net, gateway: Address | None) -> list[dict[str, str]]:
    """Requested allocation pools: inside the subnet, ordered, not overlapping, and never
    holding the gateway."""
    if not isinstance(value, list):
        raise BadRequest("Invalid input for allocation_pools. Reason: expected a list.")
    first, last = usable_range(net)
    bounds = []
    for pool in value:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise BadRequest(
                "Invalid input for allocation_pools. Reason: each pool needs 'start' and 'end'."
            )
        start = address_parse(pool["start"], "allocation_pools")
        end = address_parse(pool["end"], "allocation_pools")
        if start.version != net.version or end.version != net.version or start > end:
            raise BadRequest(f"Invalid input for operation: Invalid pool {pool}.")
        if not (first <= start and end <= last):
            raise BadRequest(
                f"The allocation pool {start}-{end} spans beyond the subnet cidr {net}."
            )
        if gateway is not None and start <= gateway <= end:
            raise Conflict(
                f"Gateway ip {gateway} conflicts with allocation pool {start}-{end}.",
                code="GatewayConflictWithAllocationPools",
            )
        bounds.append((start, end))
    bounds.sort()
    for (_, end), (start, _) in zip(bounds, bounds[1:], strict=False):
        if start <= end:
            raise BadRequest(f"Found overlapping allocation pools: {bounds} for subnet {net}.")
    return [{"start": str(a), "end": str(b)} for a, b in bounds]


def _pool_addresses(subnet: Subnet) -> Iterator[Address]:
    for pool in subnet.allocation_pools:
        address, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        while address <= end:
            yield address
            address += 1


def _free_candidates(subnet: Subnet, skip: set[str]) -> list[str]:
    taken = (
        set(IPAllocation.objects.filter(subnet=subnet).values_list("ip_address", flat=True)) | skip
    )
    found = []
    for address in _pool_addresses(subnet):
        text = str(address)
        if text not in taken:
            found.append(text)
            if len(found) >= SPREAD:
                break
    return found


def _insert(*, port: Port, subnet: Subnet, ip_address: str) -> bool:
    """Take the address for the port; False when another port has it."""
    try:
        with transaction.atomic():
            IPAllocation.objects.create(
                port=port, subnet=subnet, network_id=subnet.network_id, ip_address=ip_address
            )
    except IntegrityError:
        return False
    return True


def exhausted(subnet: Subnet) -> Conflict:
    return Conflict(
        f"No more IP addresses available for subnet {subnet.id} on network {subnet.network_id}.",
        code="IpAddressGenerationFailure",
    )


def ip_allocate_any(*, port: Port, subnet: Subnet) -> str:
    """The next free address of the subnet's pools for the port; 409 naming the subnet
    when none is left."""
    skip: set[str] = set()
    for _ in range(ATTEMPTS):
        candidates = _free_candidates(subnet, skip)
        if not candidates:
            raise exhausted(subnet)
        choice = random.choice(candidates)
        if _insert(port=port, subnet=subnet, ip_address=choice):
            return choice
        skip.add(choice)
    raise exhausted(subnet)


def ip_allocate_given(*, port: Port, subnet: Subnet, ip_address: str) -> str:
    """A requested address: inside the subnet (pools or not, as Neutron), not its
    gateway, not another port's (409)."""
    address = address_parse(ip_address, "fixed_ips")
    net = ipaddress.ip_network(subnet.cidr)
    first, last = usable_range(net)
    if address.version != net.version or not first <= address <= last:
        raise BadRequest(
            f"Invalid input for operation: IP address {ip_address} is not a valid IP for the "
            f"specified subnet."
        )
    if subnet.gateway_ip and address == ipaddress.ip_address(subnet.gateway_ip):
        raise Conflict(
            f"IP address {ip_address} already allocated in subnet {subnet.id}",
            code="IpAddressAlreadyAllocated",
        )
    if not _insert(port=port, subnet=subnet, ip_address=str(address)):
        raise Conflict(
            f"IP address {address} already allocated in subnet {subnet.id}",
            code="IpAddressAlreadyAllocated",
        )
    return str(address)


def subnet_for_address(subnets: list[Subnet], ip_address: str) -> Subnet | None:
    address = address_parse(ip_address, "fixed_ips")
    for subnet in subnets:
        if address in ipaddress.ip_network(subnet.cidr):
            return subnet
    return None
