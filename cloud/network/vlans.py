"""VLAN ids for networks (Neutron's ML2 VLAN type driver): the operator's ranges
(settings.NETWORK_VLAN_RANGES), one allocation row per id, taken under a row lock.

A project network takes the lowest free id of the first range with one; concurrent
creates skip each other's locked rows (SKIP LOCKED on PostgreSQL), so each takes a
different id, and the network's own unique constraint on (physical network, id)
backs it up. An admin may name the id (`provider:segmentation_id`): inside a range
its row is taken the same way, outside only the constraint guards it. Deleting the
network releases the row (its foreign key is set null): the id is free again.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from cloud.api.errors import BadRequest, Conflict, ServiceUnavailable
from cloud.network.models import Network, VlanAllocation

VLAN_MIN, VLAN_MAX = 1, 4094


@dataclass(frozen=True)
class VlanRange:
    physical_network: str
    first: int | None = None
    last: int | None = None

    def __contains__(self, vlan_id: int) -> bool:
        return self.first is not None and self.first <= vlan_id <= self.last


def parse_ranges(value: str) -> list[VlanRange]:
    """ "physnet1:100:199,physnet2" -> ranges (ValueError for a malformed entry)."""
    found = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        parts = entry.split(":")
        if len(parts) == 1:
            found.append(VlanRange(parts[0]))
            continue
        if len(parts) != 3 or not parts[0]:
            raise ValueError(f"NETWORK_VLAN_RANGES: {entry!r} is not physnet:first:last")
        first, last = int(parts[1]), int(parts[2])
        if not VLAN_MIN <= first <= last <= VLAN_MAX:
            raise ValueError(f"NETWORK_VLAN_RANGES: {entry!r} is not within 1-4094")
        found.append(VlanRange(parts[0], first, last))
    return found


def configured_ranges() -> list[VlanRange]:
    return parse_ranges(settings.NETWORK_VLAN_RANGES)


def physical_networks() -> list[str]:
    return list(dict.fromkeys(r.physical_network for r in configured_ranges()))


def default_physical_network() -> str | None:
    names = physical_networks()
    return names[0] if names else None


def pool_sync() -> None:
    """The allocation rows match the configured ranges: missing ids added, free ids no
    range holds any more removed (a held id stays until its network goes)."""
    ranges = [r for r in configured_ranges() if r.first is not None]
    for found in ranges:
        expected = found.last - found.first + 1
        have = VlanAllocation.objects.filter(
            physical_network=found.physical_network, vlan_id__range=(found.first, found.last)
        ).count()
        if have != expected:
            VlanAllocation.objects.bulk_create(
                [
                    VlanAllocation(physical_network=found.physical_network, vlan_id=vlan)
                    for vlan in range(found.first, found.last + 1)
                ],
                ignore_conflicts=True,
            )
    stale = VlanAllocation.objects.filter(network__isnull=True)
    for found in ranges:
        stale = stale.exclude(
            physical_network=found.physical_network, vlan_id__range=(found.first, found.last)
        )
    stale.delete()


def _locked_free_rows():
    rows = VlanAllocation.objects.filter(network__isnull=True).order_by("vlan_id")
    if connection.features.has_select_for_update_skip_locked:
        return rows.select_for_update(skip_locked=True)
    return rows.select_for_update()


def vlan_allocate(*, network: Network) -> None:
    """Give a project network the lowest free VLAN id of the first range with one; 503
    (Neutron's NoNetworkAvailable) when every id is taken. Inside the caller's
    transaction, after the network row exists."""
    pool_sync()
    for found in configured_ranges():
        if found.first is None:
            continue
        row = (
            _locked_free_rows()
            .filter(
                physical_network=found.physical_network, vlan_id__range=(found.first, found.last)
            )
            .first()
        )
        if row is not None:
            row.network = network
            row.save(update_fields=["network"])
            network.physical_network, network.segmentation_id = row.physical_network, row.vlan_id
            return
    raise ServiceUnavailable(
        "Unable to create the network. No tenant network is available for allocation."
    )


def vlan_reserve(*, network: Network, physical_network: str, vlan_id: int) -> None:
    """An admin's provider VLAN: 409 when a live network holds it."""
    if not VLAN_MIN <= vlan_id <= VLAN_MAX:
        raise BadRequest(
            f"Invalid input for operation: provider:segmentation_id {vlan_id} is not "
            f"between {VLAN_MIN} and {VLAN_MAX}."
        )
    if physical_network not in physical_networks():
        raise BadRequest(
            f"Invalid input for operation: physical_network '{physical_network}' unknown "
            f"for VLAN provider network."
        )
    in_use = Conflict(
        f"Unable to create the network. The VLAN {vlan_id} on physical network "
        f"{physical_network} is in use.",
        code="VlanIdInUse",
    )
    pool_sync()
    if any(vlan_id in r for r in configured_ranges() if r.physical_network == physical_network):
        row = (
            VlanAllocation.objects.select_for_update()
            .filter(physical_network=physical_network, vlan_id=vlan_id)
            .first()
        )
        if row is None or row.network_id is not None:
            raise in_use
        row.network = network
        row.save(update_fields=["network"])
    elif Network.objects.filter(
        network_type="vlan", physical_network=physical_network, segmentation_id=vlan_id
    ).exists():
        raise in_use
    network.physical_network, network.segmentation_id = physical_network, vlan_id
