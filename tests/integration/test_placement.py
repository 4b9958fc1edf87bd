"""Placement services on PostgreSQL: capacity arithmetic, claims, redelivery."""

import pytest
from django.utils import timezone

from cloud.hosts.models import ComputeNode
from cloud.placement.claims import (
    ClaimRejected,
    InventorySpec,
    allocations_delete,
    provider_sync,
)
from cloud.placement.models import Allocation, Inventory, ResourceProvider
from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import select_destination, select_destinations
from tests.integration.test_scheduler_claims import claim_new, hold

TINY = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}


def _host(
    name: str, memory_mb: int = 2048, vcpus: int = 2, ratio: float = 1.0, reserved_mb: int = 0
) -> ResourceProvider:
    ComputeNode.objects.create(host=name, last_seen_at=timezone.now())
    return provider_sync(
        name=name,
        inventories={
            "VCPU": InventorySpec(total=vcpus, allocation_ratio=ratio),
            "MEMORY_MB": InventorySpec(total=memory_mb, reserved=reserved_mb),
            "DISK_GB": InventorySpec(total=100),
        },
    )


def test_capacity_counts_reserved_and_ratio(db):
    provider = _host("h1", memory_mb=2048, vcpus=2, ratio=2.0, reserved_mb=1024)
    # 2 VCPU x 2.0 = 4 slots of VCPU, but (2048 - 1024) MB = 2 slots of RAM.
    claim_new("a", provider, TINY)
    hold("b", provider, TINY)
    with pytest.raises(ClaimRejected, match="MEMORY_MB"):
        claim_new("c", provider, TINY)
    with pytest.raises(ClaimRejected, match="MEMORY_MB"):
        hold("c", provider, TINY)
    assert Allocation.objects.filter(consumer_id="c").count() == 0


def test_claim_is_idempotent_and_delete_frees(db):
    provider = _host("h1", memory_mb=1024)
    for _ in range(3):
        hold("a", provider, TINY)
    assert Allocation.objects.filter(consumer_id="a").count() == 3  # one row per class
    claim_new("b", provider, TINY)
    assert allocations_delete(consumer_id="a") == 3
    claim_new("c", provider, TINY)


def test_unit_limits_are_enforced(db):
    provider = _host("h1")
    for claim in (claim_new, hold):
        with pytest.raises(ClaimRejected, match="unit limits"):
            claim("a", provider, {"VCPU": 3, "MEMORY_MB": 512})


def test_generation_moves_only_when_inventory_changes(db):
    provider = _host("h1")
    generation = ResourceProvider.objects.get(pk=provider.pk).generation
    provider_sync(
        name="h1",
        inventories={
            "VCPU": InventorySpec(total=2),
            "MEMORY_MB": InventorySpec(total=2048),
            "DISK_GB": InventorySpec(total=100),
        },
    )
    assert ResourceProvider.objects.get(pk=provider.pk).generation == generation
    provider_sync(name="h1", inventories={"VCPU": InventorySpec(total=4)})
    assert ResourceProvider.objects.get(pk=provider.pk).generation == generation + 1


def test_scheduler_spreads_and_redelivery_keeps_the_first_claim(db):
    _host("small", memory_mb=1024)
    _host("large", memory_mb=4096)
    first = select_destination(SchedulingRequest("vm-1", "p", TINY))
    assert first.host == "large" and first.alternates == ["small"]
    again = select_destination(SchedulingRequest("vm-1", "p", TINY))
    assert again.host == "large"
    assert Allocation.objects.filter(consumer_id="vm-1").count() == 3


def test_down_disabled_and_ignored_hosts_are_never_picked(db):
    _host("stale")
    ComputeNode.objects.filter(host="stale").update(
        last_seen_at=timezone.now() - timezone.timedelta(hours=1)
    )
    _host("off")
    ComputeNode.objects.filter(host="off").update(disabled=True)
    _host("failed-before")
    selection = select_destination(
        SchedulingRequest("vm-1", "p", TINY, ignore_hosts=["failed-before"])
    )
    assert selection.host is None
    assert selection.error == (
        "No valid host was found. 0 of 3 hosts could take 512 MB RAM, 1 VCPU, 1 GB disk: "
        "1 already failed this build, 1 down, 1 disabled."
    )


def test_batch_spreads_claims_once_and_falls_back_when_short(db):
    for name in ("b1", "b2", "b3"):
        _host(name, memory_mb=1024, vcpus=4)
    requests = [SchedulingRequest(f"vm-{i}", "p", TINY) for i in range(6)]
    selections = select_destinations(requests)
    hosts = [s.host for s in selections]
    assert sorted(hosts) == ["b1", "b1", "b2", "b2", "b3", "b3"]
    assert all(len(s.alternates) <= 2 for s in selections)
    for inventory in Inventory.objects.filter(resource_class="MEMORY_MB"):
        assert inventory.used == 1024
    # Full now: a second batch cannot be placed together, and one by one each fails clearly.
    more = select_destinations([SchedulingRequest(f"vm-x{i}", "p", TINY) for i in range(2)])
    assert [s.host for s in more] == [None, None]
    assert "3 lacked RAM for 512 MB" in more[0].error


def test_batch_redelivery_keeps_the_first_claims(db):
    _host("r1", memory_mb=4096, vcpus=4)
    requests = [SchedulingRequest(f"vm-{i}", "p", TINY) for i in range(3)]
    first = [s.host for s in select_destinations(requests)]
    again = [s.host for s in select_destinations(requests)]
    assert first == again == ["r1", "r1", "r1"]
    assert Allocation.objects.count() == 9


def test_a_host_report_keeps_the_allocation_ratio_an_admin_set(db):
    _host("h1")
    vcpu = Inventory.objects.get(provider__name="h1", resource_class="VCPU")
    Inventory.objects.filter(pk=vcpu.pk).update(allocation_ratio=8.0)
    provider_sync(
        name="h1",
        inventories={"VCPU": InventorySpec(total=4, allocation_ratio=4.0)},
    )
    vcpu = Inventory.objects.get(pk=vcpu.pk)
    assert (vcpu.total, vcpu.allocation_ratio, vcpu.capacity) == (4, 8.0, 32)
    # A new class starts with the ratio the host reports.
    provider_sync(
        name="h1",
        inventories={"CUSTOM_FPGA": InventorySpec(total=2, allocation_ratio=1.5)},
    )
    fpga = Inventory.objects.get(provider__name="h1", resource_class="CUSTOM_FPGA")
    assert (fpga.allocation_ratio, fpga.capacity) == (1.5, 3)
