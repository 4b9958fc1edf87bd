"""Scheduler weighers on PostgreSQL: spread and pack by free RAM, VCPU and disk, soft
server-group (anti-)affinity, recent build failures; normalisation and the names
settings may give."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from cloud.hosts.models import ComputeNode
from cloud.scheduler import weighers
from cloud.scheduler.models import ServerGroupPolicy
from cloud.scheduler.request import HostState, Scheduling
from cloud.scheduler.weighers.failures import BuildFailureWeigher
from cloud.scheduler.weighers.groups import (
    ServerGroupSoftAffinityWeigher,
    ServerGroupSoftAntiAffinityWeigher,
)
from cloud.scheduler.weighers.resources import CPUWeigher, DiskWeigher, RAMWeigher
from tests.integration.test_scheduler_filters import group, host, pick, request


@pytest.mark.parametrize("spread", [{"memory_mb": 8192}, {"vcpus": 16}, {"disk_gb": 1000}])
def test_resource_weighers_spread_by_default(db, spread):
    host("tight")  # first in the candidate order: only a weigher makes the other win
    host("roomy", **spread)
    assert pick() == "roomy"


@pytest.mark.parametrize(
    ("multiplier", "spread"),
    [
        ("RAM_WEIGHT_MULTIPLIER", {"memory_mb": 8192}),
        ("CPU_WEIGHT_MULTIPLIER", {"vcpus": 16}),
        ("DISK_WEIGHT_MULTIPLIER", {"disk_gb": 1000}),
    ],
)
def test_a_negative_multiplier_packs(db, settings, multiplier, spread):
    setattr(settings, multiplier, -1.0)
    host("roomy", **spread)
    host("tight")
    assert pick() == "tight"


def test_packing_fills_one_host_before_the_next(db, settings):
    settings.RAM_WEIGHT_MULTIPLIER = -1.0
    settings.CPU_WEIGHT_MULTIPLIER = -1.0
    settings.DISK_WEIGHT_MULTIPLIER = -1.0
    host("b", memory_mb=4096, vcpus=8)
    host("a", memory_mb=2048, vcpus=8)
    assert [pick() for _ in range(4)] == ["a", "a", "a", "a"]
    assert pick() == "b"


def test_weighers_add_up_by_their_multipliers(db, settings):
    host("more-ram", memory_mb=8192, vcpus=2)
    host("more-cpu", memory_mb=2048, vcpus=16)
    settings.CPU_WEIGHT_MULTIPLIER = 0.5
    assert pick() == "more-ram"
    settings.CPU_WEIGHT_MULTIPLIER = 2.0
    assert pick() == "more-cpu"
    settings.CPU_WEIGHT_MULTIPLIER = 0.0
    settings.RAM_WEIGHT_MULTIPLIER = 0.5
    assert pick() == "more-ram"


def test_soft_affinity_prefers_the_groups_host(db):
    host("h1")
    host("h2")
    soft = group(ServerGroupPolicy.SOFT_AFFINITY, ["h2"])
    assert pick(group_uuid=str(soft.uuid)) == "h2"


def test_soft_anti_affinity_prefers_the_host_with_fewest_members(db):
    host("h1")
    host("h2")
    host("h3")
    soft = group(ServerGroupPolicy.SOFT_ANTI_AFFINITY, ["h1", "h1", "h2"])
    assert pick(group_uuid=str(soft.uuid)) == "h3"
    # h2 and h3 now hold one member each, and h2 has more room.
    assert pick(group_uuid=str(soft.uuid)) == "h2"


def test_soft_group_weighers_can_be_turned_off(db, settings):
    host("h1", memory_mb=4096)
    host("h2")
    soft = group(ServerGroupPolicy.SOFT_AFFINITY, ["h2"])
    settings.SOFT_AFFINITY_WEIGHT_MULTIPLIER = 0.0
    assert pick(group_uuid=str(soft.uuid)) == "h1"
    settings.SOFT_AFFINITY_WEIGHT_MULTIPLIER = 10.0
    assert pick(group_uuid=str(soft.uuid)) == "h2"


def test_recent_build_failures_outweigh_free_room(db, settings):
    host("roomy", memory_mb=16384, vcpus=16, disk_gb=1000, failed_builds=1)
    host("tight", failed_builds=0)
    assert pick() == "tight"
    ComputeNode.objects.filter(host="tight").update(failed_builds=2)
    assert pick() == "roomy"
    settings.BUILD_FAILURE_WEIGHT_MULTIPLIER = 0.0
    ComputeNode.objects.filter(host="roomy").update(failed_builds=5)
    assert pick() == "roomy"


# --- The arithmetic --------------------------------------------------------------


def state(name: str, **fields) -> HostState:
    values = {
        "provider_id": 0,
        "name": name,
        "free": {},
        "capacity": {},
        "zone": "nova",
        "hypervisor_type": "QEMU",
        "architecture": "x86_64",
        "failed_builds": 0,
    }
    return HostState(**{**values, **fields})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5.0], [0.0]),
        ([3.0, 3.0, 3.0], [0.0, 0.0, 0.0]),
        ([2.0, 4.0, 6.0], [0.0, 0.5, 1.0]),
        ([-3.0, -1.0, -2.0], [0.0, 1.0, 0.5]),
        ([0.0, 1e9], [0.0, 1.0]),
    ],
)
def test_normalize(values, expected):
    assert weighers.normalize(values) == expected


def test_weigh_sums_normalised_values_times_multipliers(db, settings):
    settings.RAM_WEIGHT_MULTIPLIER = 2.0
    settings.BUILD_FAILURE_WEIGHT_MULTIPLIER = 10.0
    hosts = [
        state("a", free={"MEMORY_MB": 1024}, failed_builds=0),
        state("b", free={"MEMORY_MB": 3072}, failed_builds=4),
        state("c", free={"MEMORY_MB": 2048}, failed_builds=2),
    ]
    ctx = Scheduling(request())
    totals = weighers.weigh(hosts, [RAMWeigher(), BuildFailureWeigher()], ctx)
    assert totals == pytest.approx([0.0 + 10.0, 2.0 + 0.0, 1.0 + 5.0])
    assert weighers.weigh([], [RAMWeigher()], ctx) == []


def test_resource_weighers_read_free_room_and_missing_classes_as_none(db):
    ctx = Scheduling(request())
    roomy = state("a", free={"MEMORY_MB": 4096, "VCPU": 8, "DISK_GB": 50})
    bare = state("b")
    assert [w.weigh(roomy, ctx) for w in (RAMWeigher(), CPUWeigher(), DiskWeigher())] == [
        4096.0,
        8.0,
        50.0,
    ]
    assert [w.weigh(bare, ctx) for w in (RAMWeigher(), CPUWeigher(), DiskWeigher())] == [0.0] * 3


def test_group_weighers_count_members_of_their_own_policy_only(db):
    hosts = [state("h1"), state("h2")]
    soft, anti = ServerGroupSoftAffinityWeigher(), ServerGroupSoftAntiAffinityWeigher()
    for policy in ServerGroupPolicy:
        ctx = Scheduling(request(group_uuid=str(group(policy, ["h1", "h1"]).uuid)))
        assert soft.applies(ctx) == (policy == ServerGroupPolicy.SOFT_AFFINITY)
        assert anti.applies(ctx) == (policy == ServerGroupPolicy.SOFT_ANTI_AFFINITY)
        assert [soft.weigh(h, ctx) for h in hosts] == [2.0, 0.0]
        assert [anti.weigh(h, ctx) for h in hosts] == [-2.0, 0.0]
        # A weigher that does not apply adds nothing to any host.
        expected = [1.0, 0.0] if soft.applies(ctx) else [0.0, 0.0]
        assert weighers.weigh(hosts, [soft], ctx) == expected
    no_group = Scheduling(request())
    assert not soft.applies(no_group) and not anti.applies(no_group)


def test_weigher_names_are_checked(settings):
    assert [type(w).__name__ for w in weighers.load(settings.SCHEDULER_WEIGHERS)] == list(
        settings.SCHEDULER_WEIGHERS
    )
    with pytest.raises(ImproperlyConfigured, match="unknown weighers: IoOpsWeigher"):
        weighers.load(["RAMWeigher", "IoOpsWeigher"])
    assert weighers.load([]) == []
    assert all(name == cls.__name__ for name, cls in weighers.registry().items())
