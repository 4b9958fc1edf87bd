"""Scheduler filters on PostgreSQL, one by one: a host that passes and one that does not,
through `select_destination` (the pick) and `no_valid_host_reason` (the fault's funnel).

In each test the host a filter must remove has the most free memory, so that
without the filter the RAM weigher would pick it.
"""

import json
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cloud.hosts.models import Aggregate, AggregateHost, ComputeNode
from cloud.instances.models import Instance
from cloud.instances.selectors import instance_hosts
from cloud.instances.services import instance_mark_deleted
from cloud.placement.claims import (
    InventorySpec,
    allocations_claim_new_many,
    allocations_delete,
    provider_sync,
)
from cloud.placement.models import ResourceProvider
from cloud.scheduler import filters
from cloud.scheduler.models import ServerGroup, ServerGroupMember, ServerGroupPolicy
from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import (
    no_valid_host_reason,
    select_destination,
    select_destinations,
)
from tests.integration.conftest import ROOT

TINY = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
NEED = "512 MB RAM, 1 VCPU, 1 GB disk"


def host(
    name: str,
    *,
    memory_mb: int = 2048,
    vcpus: int = 2,
    disk_gb: int = 100,
    inventories: dict[str, InventorySpec] | None = None,
    **node,
) -> ResourceProvider:
    """A compute node that heartbeats now, and its provider."""
    node.setdefault("last_seen_at", timezone.now())
    node.setdefault("hypervisor_type", "QEMU")
    node.setdefault("cpu_info", {"arch": "x86_64"})
    ComputeNode.objects.create(host=name, **node)
    if inventories is None:
        inventories = {
            "VCPU": InventorySpec(total=vcpus),
            "MEMORY_MB": InventorySpec(total=memory_mb),
            "DISK_GB": InventorySpec(total=disk_gb),
        }
    return provider_sync(name=name, inventories=inventories)


def request(**fields) -> SchedulingRequest:
    """A request as the conductor builds it: the hosts of the instances the hints name
    resolved (the scheduler never reads instances)."""
    fields.setdefault("resources", TINY)
    for hint in ("same_host", "different_host"):
        if hint in fields:
            fields[f"{hint}_hosts"] = instance_hosts(uuids=fields[hint])
    return SchedulingRequest(instance_uuid=str(uuid.uuid4()), project_id="p", **fields)


def pick(**fields) -> str | None:
    return select_destination(request(**fields)).host


def funnel(**fields) -> str:
    """What the fault says after the prefix, when nothing fits."""
    req = request(**fields)
    selection = select_destination(req)
    assert selection.host is None, selection
    assert selection.error == no_valid_host_reason(req)
    prefix = f"No valid host was found. 0 of {ComputeNode.objects.count()} hosts could take "
    assert selection.error.startswith(prefix), selection.error
    return selection.error.removeprefix(prefix)


def group(policy: str, members: list[str], rules: dict | None = None) -> ServerGroup:
    """A server group with one placed member per host named (a host may repeat)."""
    found = ServerGroup.objects.create(
        name="g", project_id="p", user_id="u", policy=policy, rules=rules or {}
    )
    for member_host in members:
        ServerGroupMember.objects.create(group=found, instance_uuid=uuid.uuid4(), host=member_host)
    return found


def instance_on(host_name: str | None, deleted: bool = False) -> str:
    instance = Instance.objects.create(
        display_name="vm", project_id="p", user_id="u", flavor={}, host=host_name, deleted=deleted
    )
    return str(instance.uuid)


# --- ComputeFilter ---------------------------------------------------------------


def test_compute_filter_picks_only_up_and_enabled_hosts(db, settings):
    stale = timezone.now() - timedelta(seconds=settings.SERVICE_DOWN_TIME + 5)
    host("stale", memory_mb=8192, last_seen_at=stale)
    host("never-seen", memory_mb=8192, last_seen_at=None)
    host("fenced", memory_mb=8192, forced_down=True)
    host("off", memory_mb=8192, disabled=True, disabled_reason="maintenance")
    host("off-and-fenced", memory_mb=8192, disabled=True, forced_down=True)
    host("ok")
    assert pick() == "ok"
    ComputeNode.objects.filter(host="ok").delete()
    assert funnel() == f"{NEED}: 4 down, 1 disabled."


def test_a_recent_heartbeat_makes_a_host_up_again(db, settings):
    stale = timezone.now() - timedelta(seconds=settings.SERVICE_DOWN_TIME + 5)
    host("h1", last_seen_at=stale)
    assert funnel() == f"{NEED}: 1 down."
    ComputeNode.objects.filter(host="h1").update(last_seen_at=timezone.now())
    assert pick() == "h1"


# --- ResourcesFilter -------------------------------------------------------------


def test_resources_filter_counts_each_class_it_lacked(db):
    host("small-ram", memory_mb=256, vcpus=8, disk_gb=500)
    busy_cpu = host("busy-cpu", memory_mb=8192, vcpus=1)
    allocations_claim_new_many([("other-1", "p", busy_cpu.pk, {"VCPU": 1})])
    full_disk = host("full-disk", memory_mb=8192, disk_gb=10)
    allocations_claim_new_many([("other-2", "p", full_disk.pk, {"DISK_GB": 10})])
    host(
        "no-disk",
        inventories={"VCPU": InventorySpec(total=4), "MEMORY_MB": InventorySpec(total=8192)},
    )
    host("fits", memory_mb=1024)
    assert pick() == "fits"
    ComputeNode.objects.filter(host="fits").delete()
    assert (
        funnel() == f"{NEED}: 1 lacked RAM for 512 MB, 1 lacked VCPU for 1, 2 lacked disk for 1 GB."
    )


def test_resources_filter_honours_unit_limits(db):
    # 2 cores at 4.0 overcommit: room for 8 VCPU, but no single guest above 2 (max_unit).
    host(
        "two-cores",
        memory_mb=8192,
        inventories={
            "VCPU": InventorySpec(total=2, allocation_ratio=4.0),
            "MEMORY_MB": InventorySpec(total=8192),
            "DISK_GB": InventorySpec(total=100),
        },
    )
    # Memory handed out in 1 GB units only (min_unit and step_size).
    host(
        "gb-units",
        memory_mb=8192,
        inventories={
            "VCPU": InventorySpec(total=16),
            "MEMORY_MB": InventorySpec(total=8192, min_unit=1024, step_size=1024),
            "DISK_GB": InventorySpec(total=100),
        },
    )
    host("four-cores", memory_mb=2048, vcpus=4)
    big = {"VCPU": 4, "MEMORY_MB": 512, "DISK_GB": 1}
    assert pick(resources=big) == "four-cores"
    assert pick(resources={"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 1}) == "gb-units"
    ComputeNode.objects.filter(host="four-cores").delete()
    assert funnel(resources=big) == (
        "512 MB RAM, 4 VCPU, 1 GB disk: 1 lacked RAM for 512 MB, 1 lacked VCPU for 4."
    )
    odd = {"VCPU": 1, "MEMORY_MB": 1536, "DISK_GB": 1}  # not a whole number of 1 GB steps
    assert pick(resources=odd) == "two-cores"
    ComputeNode.objects.filter(host="two-cores").delete()
    assert funnel(resources=odd) == "1536 MB RAM, 1 VCPU, 1 GB disk: 1 lacked RAM for 1536 MB."


def test_resources_filter_names_custom_classes(db):
    host("plain")
    host(
        "fpga",
        inventories={
            "VCPU": InventorySpec(total=2),
            "MEMORY_MB": InventorySpec(total=1024),
            "DISK_GB": InventorySpec(total=100),
            "CUSTOM_FPGA": InventorySpec(total=1),
        },
    )
    wanted = {**TINY, "CUSTOM_FPGA": 1}
    assert pick(resources=wanted) == "fpga"
    ComputeNode.objects.filter(host="fpga").delete()
    assert funnel(resources=wanted) == f"{NEED}, 1 CUSTOM_FPGA: 1 lacked CUSTOM_FPGA for 1."


# --- AvailabilityZoneFilter ------------------------------------------------------


def test_availability_zone_filter_keeps_the_zone(db):
    host("west-1", memory_mb=8192, availability_zone="west")
    host("east-1", availability_zone="east")
    assert pick(availability_zone="east") == "east-1"
    assert pick() == "west-1"  # no zone asked: every zone
    assert funnel(availability_zone="south") == f"{NEED}: 2 were not in zone south."


def test_availability_zone_filter_keeps_the_forced_host(db):
    host("big", memory_mb=8192)
    host("small")
    host("elsewhere", availability_zone="east")
    assert pick(availability_zone="nova", forced_host="small") == "small"
    assert funnel(availability_zone="nova", forced_host="elsewhere") == (
        f"{NEED}: 1 were not in zone nova, 2 were not the requested host elsewhere."
    )
    ComputeNode.objects.filter(host="small").update(disabled=True)
    assert (
        funnel(forced_host="small") == f"{NEED}: 1 disabled, 2 were not the requested host small."
    )


# --- AggregateInstanceExtraSpecsFilter -------------------------------------------


def aggregate(name: str, metadata: dict, hosts: list[str]) -> Aggregate:
    found = Aggregate.objects.create(name=name, metadata=metadata)
    for member in hosts:
        AggregateHost.objects.create(aggregate=found, host=member)
    return found


@pytest.fixture
def aggregates(db):
    host("plain", memory_mb=8192)  # in no aggregate
    host("hdd", memory_mb=4096)
    host("ssd")
    host("gpu")
    aggregate("spinning", {"ssd": "false"}, ["hdd"])
    aggregate("fast", {"ssd": "true"}, ["ssd"])
    aggregate("rack-1", {"rack": "r1"}, ["ssd", "gpu"])
    aggregate("accelerators", {"gpu": "a100, h100"}, ["gpu"])


@pytest.mark.parametrize(
    ("extra_specs", "expected"),
    [
        ({"aggregate_instance_extra_specs:ssd": "true"}, "ssd"),
        ({"ssd": "true"}, "ssd"),  # unscoped keys count too
        ({"ssd": "false"}, "hdd"),
        ({"ssd": "true", "rack": "r1"}, "ssd"),  # metadata of two aggregates together
        ({"gpu": "h100"}, "gpu"),  # one of a comma-separated list
        ({"gpu": "<in> 100"}, "gpu"),
        ({"ssd": "<or> maybe <or> true"}, "ssd"),
        ({"aggregate_instance_extra_specs:ssd": "s== true"}, "ssd"),
        ({"hw:cpu_policy": "dedicated"}, "plain"),  # another scope: not this filter's
        ({}, "plain"),
    ],
)
def test_aggregate_filter_matches_flavor_extra_specs(aggregates, extra_specs, expected):
    assert pick(flavor_extra_specs=extra_specs) == expected


def test_aggregate_filter_funnel(aggregates):
    assert funnel(flavor_extra_specs={"aggregate_instance_extra_specs:ssd": "maybe"}) == (
        f"{NEED}: 4 had no aggregate matching ssd=maybe."
    )
    assert funnel(flavor_extra_specs={"ssd": "false", "rack": "r1"}) == (
        f"{NEED}: 4 had no aggregate matching rack=r1, ssd=false."
    )


# --- ImagePropertiesFilter -------------------------------------------------------


@pytest.fixture
def architectures(db):
    host("unknown", memory_mb=16384, cpu_info={})
    host("arm", memory_mb=8192, cpu_info={"arch": "aarch64"})
    host("x86-test", memory_mb=4096, hypervisor_type="TEST")
    host("x86-qemu")


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"hw_architecture": "aarch64"}, "arm"),
        ({"architecture": "x86_64"}, "x86-test"),
        ({"hw_architecture": "X86_64", "img_hv_type": "qemu"}, "x86-qemu"),
        ({"hypervisor_type": "test"}, "x86-test"),
        ({"os_distro": "cirros"}, "unknown"),  # nothing this filter judges
    ],
)
def test_image_properties_filter_matches_arch_and_hypervisor(architectures, properties, expected):
    assert pick(image_properties=properties) == expected


def test_image_properties_filter_funnel(architectures):
    assert funnel(image_properties={"hw_architecture": "s390x"}) == (
        f"{NEED}: 4 did not match the image's hw_architecture=s390x."
    )
    ComputeNode.objects.filter(host="x86-qemu").update(disabled=True)
    assert funnel(image_properties={"architecture": "x86_64", "img_hv_type": "kvm"}) == (
        f"{NEED}: 1 disabled, 3 did not match the image's architecture=x86_64, img_hv_type=kvm."
    )


# --- ServerGroupAffinityFilter / ServerGroupAntiAffinityFilter -------------------


def test_affinity_filter_keeps_the_group_on_its_host(db):
    host("h1", memory_mb=8192)
    host("h2")
    host("h3")
    empty = group(ServerGroupPolicy.AFFINITY, [])
    first = request(group_uuid=str(empty.uuid))
    assert select_destination(first).host == "h1"  # the first member goes anywhere
    member = ServerGroupMember.objects.get(instance_uuid=first.instance_uuid)
    assert (member.group_id, member.host) == (empty.pk, "h1")

    placed = group(ServerGroupPolicy.AFFINITY, ["h2"])
    assert pick(group_uuid=str(placed.uuid)) == "h2"
    ComputeNode.objects.filter(host="h2").update(disabled=True)
    assert funnel(group_uuid=str(placed.uuid)) == (
        f"{NEED}: 1 disabled, 2 were not the host of affinity group {placed.uuid}."
    )


def test_anti_affinity_filter_keeps_members_apart(db):
    host("h1", memory_mb=8192)
    host("h2")
    placed = group(ServerGroupPolicy.ANTI_AFFINITY, ["h1"])
    second = request(group_uuid=str(placed.uuid))
    assert select_destination(second).host == "h2"
    assert ServerGroupMember.objects.get(instance_uuid=second.instance_uuid).host == "h2"
    assert funnel(group_uuid=str(placed.uuid)) == (
        f"{NEED}: 2 already held members of anti-affinity group {placed.uuid}."
    )


def test_anti_affinity_filter_honours_max_server_per_host(db):
    host("h1", memory_mb=8192, vcpus=8)
    host("h2", vcpus=8)
    placed = group(ServerGroupPolicy.ANTI_AFFINITY, ["h1"], rules={"max_server_per_host": 2})
    assert pick(group_uuid=str(placed.uuid)) == "h1"
    assert pick(group_uuid=str(placed.uuid)) == "h2"
    assert pick(group_uuid=str(placed.uuid)) == "h2"
    assert funnel(group_uuid=str(placed.uuid)) == (
        f"{NEED}: 2 already held members of anti-affinity group {placed.uuid}."
    )


def test_deleted_members_no_longer_hold_their_host(db):
    host("h1", memory_mb=8192, vcpus=8, disk_gb=1000)
    host("h2")
    placed = group(ServerGroupPolicy.ANTI_AFFINITY, [])
    first = request(group_uuid=str(placed.uuid))
    assert select_destination(first).host == "h1"
    instance = Instance.objects.create(
        uuid=first.instance_uuid, display_name="vm", project_id="p", user_id="u", flavor={}
    )
    instance_mark_deleted(instance=instance)
    assert pick(group_uuid=str(placed.uuid)) == "h1"


def test_group_filters_ignore_other_policies(db):
    host("h1", memory_mb=8192)
    host("h2")
    for policy in (ServerGroupPolicy.SOFT_AFFINITY, ServerGroupPolicy.SOFT_ANTI_AFFINITY):
        placed = group(policy, ["h1", "h1", "h2"])
        selection = select_destination(request(group_uuid=str(placed.uuid)))
        assert selection.host is not None and selection.error is None


# --- SameHostFilter / DifferentHostFilter ----------------------------------------


def test_same_host_filter_keeps_the_named_instances_hosts(db):
    host("h1", memory_mb=8192)
    host("h2")
    host("h3")
    on_h2 = instance_on("h2")
    assert pick(same_host=[on_h2]) == "h2"
    unplaced = instance_on(None)
    gone = instance_on("h1", deleted=True)
    assert funnel(same_host=[unplaced, gone]) == (
        f"{NEED}: 3 were not the host of an instance named by same_host."
    )


def test_different_host_filter_avoids_the_named_instances_hosts(db):
    host("h1", memory_mb=8192)
    host("h2", memory_mb=4096)
    host("h3")
    assert pick(different_host=[instance_on("h1")]) == "h2"
    assert pick(different_host=[instance_on("h1"), instance_on("h2")]) == "h3"
    assert pick(different_host=[instance_on("h1", deleted=True)]) == "h1"
    everywhere = [instance_on(name) for name in ("h1", "h2", "h3")]
    assert funnel(different_host=everywhere) == (
        f"{NEED}: 3 held an instance named by different_host."
    )


# --- JsonFilter ------------------------------------------------------------------


@pytest.fixture
def shapes(db, settings):
    # The RAM weigher alone ranks: the pick shows what the query let through.
    settings.CPU_WEIGHT_MULTIPLIER = settings.DISK_WEIGHT_MULTIPLIER = 0.0
    host("big-ram", memory_mb=16384)
    host("many-cores", memory_mb=8192, vcpus=32)
    host("kvm", memory_mb=4096, hypervisor_type="KVM")
    host("big-disk", disk_gb=2000)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([">=", "$vcpus_total", 16], "many-cores"),
        (["=", "$hypervisor_type", "KVM"], "kvm"),
        ([">", "$free_disk_mb", 1024 * 1024], "big-disk"),  # 2000 GB in MB
        (["and", ["<", "$free_ram_mb", 8192], ["not", ["=", "$host", "kvm"]]], "big-disk"),
        (["in", "$host", "kvm", "many-cores"], "many-cores"),  # the RAM weigher among them
        (["or", ["=", "$host", "kvm"], ["=", "$host", "big-disk"]], "kvm"),
    ],
)
def test_json_filter_picks_only_hosts_matching_the_query(shapes, query, expected):
    assert pick() == "big-ram"  # without the query
    assert pick(query=json.dumps(query)) == expected


def test_json_filter_in_one_pass(shapes):
    selections = select_destinations(
        [
            request(query='["=", "$hypervisor_type", "KVM"]'),
            request(query='[">=", "$vcpus_total", 16]'),
            request(),
        ]
    )
    assert [s.host for s in selections] == ["kvm", "many-cores", "big-ram"]


def test_json_filter_funnel(shapes):
    assert funnel(query='[">", "$vcpus_total", 64]') == (
        f'{NEED}: 4 did not match the query hint [">", "$vcpus_total", 64].'
    )
    ComputeNode.objects.filter(host="kvm").update(disabled=True)
    assert funnel(query='["=", "$hypervisor_type", "KVM"]') == (
        f'{NEED}: 1 disabled, 3 did not match the query hint ["=", "$hypervisor_type", "KVM"].'
    )
    # A query this scheduler cannot read (from a newer API) matches nothing, and says why.
    assert funnel(query='["=", "$numa_topology", 1]').startswith(
        f'{NEED}: 1 disabled, 3 could not be judged by the query hint ["=", "$numa_topology", 1] '
        "(unknown variable $numa_topology"
    )


# --- The funnel and the filter list ----------------------------------------------


def test_funnel_counts_every_filter_in_order(db, settings):
    stale = timezone.now() - timedelta(seconds=settings.SERVICE_DOWN_TIME + 5)
    host("failed-before")
    host("down", last_seen_at=stale)
    host("off-1", disabled=True)
    host("off-2", disabled=True)
    for index in range(3):
        host(f"small-{index}", memory_mb=256)
    host("busy", vcpus=1)
    busy = ResourceProvider.objects.get(name="busy")
    allocations_claim_new_many([("other", "p", busy.pk, {"VCPU": 1})])
    host("east", availability_zone="east")
    host("arm", cpu_info={"arch": "aarch64"})
    host("elsewhere")
    assert funnel(
        ignore_hosts=["failed-before"],
        availability_zone="nova",
        image_properties={"hw_architecture": "aarch64"},
        different_host=[instance_on("arm")],
    ) == (
        f"{NEED}: 1 already failed this build, 1 down, 2 disabled, 3 lacked RAM for 512 MB, "
        "1 lacked VCPU for 1, 1 were not in zone nova, 1 did not match the image's "
        "hw_architecture=aarch64, 1 held an instance named by different_host."
    )


def test_funnel_without_hosts_and_when_the_fitting_host_was_taken(db):
    assert funnel() == f"{NEED}: no compute hosts are registered."
    provider = host("only", memory_mb=512)
    wanted = request()
    allocations_claim_new_many([("someone-else", "p", provider.pk, TINY)])
    assert no_valid_host_reason(wanted).endswith(f"{NEED}: 1 lacked RAM for 512 MB.")
    allocations_delete(consumer_id="someone-else")  # freed after the pick failed
    assert no_valid_host_reason(wanted).endswith(
        f"{NEED}: the 1 that fit were taken by concurrent requests."
    )


def test_a_filter_left_out_of_the_settings_does_not_apply(db, settings):
    host("off", memory_mb=8192, disabled=True)
    host("on")
    assert pick() == "on"
    settings.SCHEDULER_FILTERS = ["ResourcesFilter"]
    assert pick() == "off"


def test_filter_names_are_checked(db):
    names = ["ComputeFilter", "ResourcesFilter"]
    assert [type(f).__name__ for f in filters.load(names)] == names
    with pytest.raises(ImproperlyConfigured, match="unknown filters: RamFilter, Typo"):
        filters.load([*names, "RamFilter", "Typo"])
    with pytest.raises(ImproperlyConfigured, match="must include ResourcesFilter"):
        filters.load(["ComputeFilter"])
    assert all(name == cls.__name__ for name, cls in filters.registry().items())


def test_an_unknown_filter_stops_start_up():
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "cloud.settings",
            "SCHEDULER_FILTERS": "ComputeFilter,ResourcesFilter,NoSuchFilter",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "unknown filters: NoSuchFilter" in started.stderr
