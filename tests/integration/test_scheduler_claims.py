"""Claims on PostgreSQL: concurrent claims from threads that each hold their own database
connection (committed rows, real row locks), and the bookkeeping every placement write
must keep: `Inventory.used` equal to the sum of the allocations against it."""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection
from django.db.models import Sum

from cloud.placement.claims import (
    ClaimRejected,
    ConsumerAllocations,
    ConsumerExists,
    Fitted,
    ProviderBusy,
    allocations_claim_new_fitting,
    allocations_claim_new_many,
    allocations_delete,
    allocations_set_many,
)
from cloud.placement.models import Allocation, Consumer, Inventory, ResourceProvider
from cloud.scheduler.models import ServerGroupMember, ServerGroupPolicy
from cloud.scheduler.services import select_destination
from tests.integration.conftest import wait_for
from tests.integration.test_scheduler_filters import TINY, group, host, request


def assert_used_is_the_sum_of_allocations() -> None:
    for inventory in Inventory.objects.select_related("provider"):
        allocated = Allocation.objects.filter(
            provider=inventory.provider, resource_class=inventory.resource_class
        ).aggregate(total=Sum("used"))["total"]
        assert inventory.used == (allocated or 0), (
            inventory.provider.name,
            inventory.resource_class,
        )
        assert 0 <= inventory.used <= inventory.capacity


def in_threads(count: int, work) -> list:
    """`work(index)` in `count` threads released together, each on its own connection."""
    barrier = threading.Barrier(count)

    def run(index: int):
        try:
            barrier.wait(timeout=10)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# These tests commit, so they may run while the integration workers' hosts heartbeat:
# their hosts are in a zone of their own, and every request asks for that zone.
ZONE = "claims"


def zone_host(name: str, **sizes) -> ResourceProvider:
    return host(name, availability_zone=ZONE, **sizes)


def zone_request(**fields):
    return request(availability_zone=ZONE, **fields)


def usage(provider: ResourceProvider) -> dict[str, int]:
    return dict(Inventory.objects.filter(provider=provider).values_list("resource_class", "used"))


def generation(provider: ResourceProvider) -> int:
    return ResourceProvider.objects.get(pk=provider.pk).generation


def replace(consumer_id: str, allocations: dict[int, dict[str, int]], user_id: str = "") -> None:
    """Replace what the consumer holds ({provider id: {class: amount}}), as the placement
    API's writes (cloud.placement.services.allocations_write) and moves do."""
    allocations_set_many(consumers={consumer_id: ConsumerAllocations("p", user_id, allocations)})


def hold(consumer_id: str, provider: ResourceProvider, resources: dict[str, int]) -> None:
    """The consumer holds `resources` on one provider, in place of what it held."""
    replace(consumer_id, {provider.pk: resources})


def claim_new(
    consumer_id: str, provider: ResourceProvider, resources: dict[str, int], wait: bool = True
) -> None:
    """The scheduler's claim for a new build (cloud.scheduler.services._claim)."""
    allocations_claim_new_many([(consumer_id, "p", provider.pk, resources)], wait=wait)


# --- Concurrency -----------------------------------------------------------------


def locked(provider: ResourceProvider):
    """Another session holding the provider's row lock (a claim under way there) until
    the returned connection commits."""
    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
    )
    other.execute(
        f"SELECT id FROM {ResourceProvider._meta.db_table} WHERE id = %s FOR UPDATE",
        [provider.pk],
    )
    return other


def wait_until_queued_behind(other) -> None:
    """Wait until another session waits for a lock `other` holds: a claim queued behind it."""
    holder = other.info.backend_pid

    def queued() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [holder],
            )
            return cursor.fetchone()[0] > 0

    wait_for(queued, 10, interval=0.02, message="a claim queued behind the lock")


@pytest.mark.parametrize("claim_function", [hold, claim_new], ids=["replace", "new"])
def test_concurrent_claims_on_the_last_slot_exactly_one_wins(transactional_db, claim_function):
    provider = zone_host("h1", memory_mb=1024, vcpus=8)
    claim_new("first", provider, TINY)

    def claim(index: int) -> str | None:
        try:
            claim_function(f"racer-{index}", provider, TINY)
        except ClaimRejected:
            return None
        return f"racer-{index}"

    winners = [w for w in in_threads(8, claim) if w]
    assert len(winners) == 1
    assert set(Allocation.objects.values_list("consumer_id", flat=True)) == {"first", *winners}
    assert usage(provider)["MEMORY_MB"] == 1024
    assert_used_is_the_sum_of_allocations()


def test_concurrent_schedulers_fill_every_slot_and_no_more(transactional_db):
    zone_host("h1", memory_mb=1024, vcpus=8)
    zone_host("h2", memory_mb=1024, vcpus=8)
    selections = in_threads(10, lambda _: select_destination(zone_request()))
    placed = Counter(s.host for s in selections if s.host)
    assert placed == {"h1": 2, "h2": 2}
    for failed in (s for s in selections if not s.host):
        assert failed.error.startswith("No valid host was found."), failed.error
        assert "lacked RAM for 512 MB" in failed.error
    assert_used_is_the_sum_of_allocations()


def test_concurrent_anti_affinity_boots_land_on_distinct_hosts(transactional_db):
    for name in ("h1", "h2", "h3"):
        zone_host(name, memory_mb=8192, vcpus=8)
    apart = group(ServerGroupPolicy.ANTI_AFFINITY, [])
    selections = in_threads(
        6, lambda _: select_destination(zone_request(group_uuid=str(apart.uuid)))
    )
    placed = sorted(s.host for s in selections if s.host)
    assert placed == ["h1", "h2", "h3"]
    members = ServerGroupMember.objects.filter(group=apart)
    assert sorted(members.values_list("host", flat=True)) == placed
    for failed in (s for s in selections if not s.host):
        assert f"3 already held members of anti-affinity group {apart.uuid}" in failed.error
    assert_used_is_the_sum_of_allocations()


def test_concurrent_affinity_boots_share_one_host(transactional_db):
    for name in ("h1", "h2", "h3"):
        zone_host(name, memory_mb=8192, vcpus=8)
    together = group(ServerGroupPolicy.AFFINITY, [])
    selections = in_threads(
        6, lambda _: select_destination(zone_request(group_uuid=str(together.uuid)))
    )
    hosts = {s.host for s in selections}
    assert len(hosts) == 1 and None not in hosts, selections
    assert set(ServerGroupMember.objects.values_list("host", flat=True)) == hosts
    assert_used_is_the_sum_of_allocations()


# --- Bookkeeping -----------------------------------------------------------------


def test_allocations_set_across_two_providers(db):
    compute = host("compute", memory_mb=4096, vcpus=4)
    storage = host("storage", memory_mb=1024, disk_gb=1000)
    before = (generation(compute), generation(storage))
    replace(
        "vm",
        {compute.pk: {"VCPU": 2, "MEMORY_MB": 1024}, storage.pk: {"DISK_GB": 500}},
        user_id="u",
    )
    assert usage(compute) == {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 0}
    assert usage(storage) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 500}
    assert (generation(compute), generation(storage)) == (before[0] + 1, before[1] + 1)
    assert Consumer.objects.filter(uuid="vm", project_id="p", user_id="u").exists()
    assert_used_is_the_sum_of_allocations()

    # The same allocations again: nothing changes, not even the generations.
    replace("vm", {compute.pk: {"VCPU": 2, "MEMORY_MB": 1024}, storage.pk: {"DISK_GB": 500}})
    assert (generation(compute), generation(storage)) == (before[0] + 1, before[1] + 1)

    # Replaced by allocations on one provider: the other is freed.
    replace("vm", {compute.pk: {"VCPU": 1, "DISK_GB": 10}})
    assert usage(compute) == {"VCPU": 1, "MEMORY_MB": 0, "DISK_GB": 10}
    assert usage(storage) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    assert_used_is_the_sum_of_allocations()

    # Nothing at all: the consumer is gone.
    replace("vm", {})
    assert not Allocation.objects.exists() and not Consumer.objects.exists()
    assert_used_is_the_sum_of_allocations()


def test_a_rejected_claim_writes_nothing(db):
    small = host("small", memory_mb=1024)
    large = host("large", memory_mb=8192)
    hold("vm", small, TINY)
    hold("other", small, {"MEMORY_MB": 512})
    held = sorted(Allocation.objects.values_list("provider_id", "resource_class", "used"))
    consumer_generation = Consumer.objects.get(uuid="vm").generation
    before = (generation(small), generation(large), usage(small), usage(large))

    # Large would fit; small does not, even with what vm holds there given back: neither
    # is written, and vm keeps what it held.
    with pytest.raises(ClaimRejected, match="small has 512 MEMORY_MB free, 1024 needed"):
        replace("vm", {large.pk: {"MEMORY_MB": 4096}, small.pk: {"MEMORY_MB": 1024}})
    with pytest.raises(ClaimRejected, match="large has no CUSTOM_GPU inventory"):
        hold("new", large, {"CUSTOM_GPU": 1})
    with pytest.raises(ClaimRejected, match="outside the unit limits"):
        hold("new", large, {"VCPU": 3})

    assert sorted(Allocation.objects.values_list("provider_id", "resource_class", "used")) == held
    assert (generation(small), generation(large), usage(small), usage(large)) == before
    assert Consumer.objects.get(uuid="vm").generation == consumer_generation
    assert not Consumer.objects.filter(uuid="new").exists()
    assert_used_is_the_sum_of_allocations()


def test_a_rejected_new_claim_writes_nothing(db):
    small = host("small", memory_mb=1024)
    claim_new("vm", small, TINY)
    before = (generation(small), usage(small))
    with pytest.raises(ClaimRejected, match="small has 512 MEMORY_MB free, 1024 needed"):
        claim_new("new", small, {"MEMORY_MB": 1024})
    with pytest.raises(ClaimRejected, match="small has no CUSTOM_GPU inventory"):
        claim_new("new", small, {"VCPU": 1, "CUSTOM_GPU": 1})
    with pytest.raises(ClaimRejected, match="outside the unit limits"):
        claim_new("new", small, {"VCPU": 3})
    with pytest.raises(ConsumerExists):
        claim_new("vm", small, TINY)
    assert (generation(small), usage(small)) == before
    assert set(Consumer.objects.values_list("uuid", flat=True)) == {"vm"}
    assert_used_is_the_sum_of_allocations()


def test_new_claims_of_a_multi_create_fit_together_or_not_at_all(db):
    h1 = host("h1", memory_mb=1024, vcpus=4)
    h2 = host("h2", memory_mb=1024, vcpus=4)
    before = (generation(h1), generation(h2), usage(h1), usage(h2))
    # Each fits h1 alone; together they do not: nothing is written anywhere.
    with pytest.raises(ClaimRejected, match="h1 has 1024 MEMORY_MB free, 1536 needed"):
        allocations_claim_new_many(
            [
                ("a", "p", h1.pk, {"MEMORY_MB": 512}),
                ("b", "p", h1.pk, {"MEMORY_MB": 1024}),
                ("c", "p", h2.pk, {"MEMORY_MB": 512}),
            ]
        )
    with pytest.raises(ClaimRejected, match="outside the unit limits"):
        allocations_claim_new_many(
            [("a", "p", h1.pk, {"VCPU": 1}), ("b", "p", h1.pk, {"VCPU": 5, "MEMORY_MB": 1})]
        )
    assert (generation(h1), generation(h2), usage(h1), usage(h2)) == before
    assert not Consumer.objects.exists() and not Allocation.objects.exists()

    allocations_claim_new_many(
        [("a", "p", h1.pk, TINY), ("b", "p", h1.pk, TINY), ("c", "p", h2.pk, TINY)]
    )
    assert usage(h1) == {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 2}
    assert usage(h2) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    assert (generation(h1), generation(h2)) == (before[0] + 1, before[1] + 1)
    assert set(Consumer.objects.values_list("uuid", flat=True)) == {"a", "b", "c"}
    assert_used_is_the_sum_of_allocations()


def test_claims_of_what_still_fits_leave_only_the_full_hosts_out(db):
    """A scheduler pass's claim: each provider takes all of its claims or none of them,
    the others go on regardless, and a consumer holding a claim already is told apart."""
    full = host("full", memory_mb=1024, vcpus=4)
    roomy = host("roomy", memory_mb=4096, vcpus=4)
    claim_new("held", roomy, TINY)
    before = (generation(full), generation(roomy), usage(full))
    fitted = allocations_claim_new_fitting(
        [
            ("a", "p", full.pk, {"MEMORY_MB": 512}),
            ("b", "p", full.pk, {"MEMORY_MB": 1024}),  # together more than `full` has
            ("c", "p", roomy.pk, TINY),
            ("d", "p", roomy.pk, {"VCPU": 5, "MEMORY_MB": 1}),  # outside the unit limits
            ("held", "p", roomy.pk, TINY),
            ("e", "p", full.pk + roomy.pk + 1000, TINY),  # no such provider
        ]
    )
    assert fitted.existing == {"held"}
    assert fitted.claimed == set()  # `roomy` refuses `d`, so it takes nothing
    assert (generation(full), generation(roomy), usage(full)) == before

    fitted = allocations_claim_new_fitting(
        [
            ("a", "p", full.pk, {"MEMORY_MB": 512}),
            ("b", "p", full.pk, {"MEMORY_MB": 1024}),
            ("c", "p", roomy.pk, TINY),
            ("d", "p", roomy.pk, TINY),
        ]
    )
    assert fitted == Fitted(claimed={"c", "d"}, existing=set())
    assert generation(full) == before[0] and generation(roomy) == before[1] + 1
    assert usage(roomy) == {"VCPU": 3, "MEMORY_MB": 1536, "DISK_GB": 3}
    assert set(Consumer.objects.values_list("uuid", flat=True)) == {"held", "c", "d"}
    assert_used_is_the_sum_of_allocations()


def test_four_schedulers_claiming_what_fits_fill_every_slot_and_no_more(transactional_db):
    """Passes racing for the same hosts: what one filled, the others are refused, never
    overcommitted; every slot ends up taken."""
    hosts = [zone_host(f"h{i}", memory_mb=2048, vcpus=8) for i in range(3)]

    def one_pass(index: int) -> set[str]:
        claims = [(f"s{index}-{n}", "p", hosts[n % 3].pk, TINY) for n in range(6)]
        return allocations_claim_new_fitting(claims).claimed

    claimed = set().union(*in_threads(4, one_pass))
    assert Allocation.objects.filter(resource_class="MEMORY_MB").count() == len(claimed)
    assert {h.name: usage(h)["MEMORY_MB"] for h in hosts} == {h.name: 2048 for h in hosts}
    assert_used_is_the_sum_of_allocations()


def test_a_scheduler_passes_over_a_host_another_is_claiming_on(transactional_db):
    busy = zone_host("h1", memory_mb=8192, vcpus=8)
    zone_host("h2", memory_mb=4096, vcpus=8)
    other = locked(busy)
    try:
        with pytest.raises(ProviderBusy):
            claim_new("vm", busy, TINY, wait=False)
        assert select_destination(zone_request()).host == "h2"
    finally:
        other.close()
    assert select_destination(zone_request()).host == "h1"
    assert_used_is_the_sum_of_allocations()


def test_a_scheduler_waits_for_the_only_host_another_is_claiming_on(transactional_db):
    only = zone_host("h1", memory_mb=8192, vcpus=8)
    other = locked(only)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(lambda: (select_destination(zone_request()), connection.close()))
        try:
            wait_until_queued_behind(other)
            assert not pending.done()  # queued behind the other claim, not failed
            other.commit()
        finally:
            other.close()
        assert pending.result(timeout=30)[0].host == "h1"
    assert_used_is_the_sum_of_allocations()


def test_allocations_delete_restores_used(db):
    provider = host("h1", memory_mb=4096, vcpus=4)
    empty = usage(provider)
    claim_new("a", provider, TINY)
    after_a = usage(provider)
    hold("b", provider, TINY)
    # A write again for the same consumer replaces what it held, it does not add.
    hold("b", provider, {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 1})
    assert usage(provider) == {"VCPU": 3, "MEMORY_MB": 1536, "DISK_GB": 2}
    assert allocations_delete(consumer_id="b") == 3
    assert usage(provider) == after_a
    assert allocations_delete(consumer_id="b") == 0
    assert allocations_delete(consumer_id="a") == 3
    assert usage(provider) == empty
    assert not Consumer.objects.exists()
    assert_used_is_the_sum_of_allocations()


def test_moving_a_consumer_between_hosts_keeps_both_counts(db):
    h1 = host("h1", memory_mb=1024)
    h2 = host("h2", memory_mb=1024)
    consumers = [str(uuid.uuid4()) for _ in range(2)]
    for consumer in consumers:
        claim_new(consumer, h1, TINY)
    hold(consumers[0], h2, TINY)
    assert (usage(h1)["MEMORY_MB"], usage(h2)["MEMORY_MB"]) == (512, 512)
    assert_used_is_the_sum_of_allocations()
