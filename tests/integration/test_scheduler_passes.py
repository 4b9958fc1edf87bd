"""Several requests decided in one pass (cloud.scheduler.services.select_destinations, fed
by cloud.scheduler.passes): mixed flavors, zones and server groups on shared candidate
scans, one claim for the pass, and what goes one by one instead."""

import contextlib
import queue
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cloud.celery import app
from cloud.placement.claims import allocations_claim_new_many
from cloud.placement.models import Allocation, Consumer, Inventory, ResourceProvider
from cloud.scheduler import services
from cloud.scheduler.models import ServerGroupMember, ServerGroupPolicy
from cloud.scheduler.passes import Passes
from cloud.scheduler.request import Scheduling, SchedulingRequest
from cloud.scheduler.services import PASS_ATTEMPTS, Decided, Selection, select_destinations
from tests.integration.conftest import wait_for
from tests.integration.test_scheduler_claims import (
    assert_used_is_the_sum_of_allocations,
    generation,
    locked,
    usage,
    wait_until_queued_behind,
)
from tests.integration.test_scheduler_filters import TINY, group
from tests.integration.test_scheduler_filters import host as any_host
from tests.integration.test_scheduler_filters import request as any_request

# Hosts and requests keep to zones of their own: the integration workers' hosts may be
# heartbeating into the same database.
ZONE = "passes"
SMALL = {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 10}
LARGE = {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 40}


def host(name: str, availability_zone: str = ZONE, **sizes) -> ResourceProvider:
    return any_host(name, availability_zone=availability_zone, **sizes)


def request(availability_zone: str = ZONE, **fields) -> SchedulingRequest:
    return any_request(availability_zone=availability_zone, **fields)


def hosts_of(selections: list[Selection]) -> list[str | None]:
    return [selection.host for selection in selections]


def test_mixed_requests_are_placed_in_one_claim(db):
    providers = [
        host(f"h{i}", memory_mb=16384, vcpus=8, availability_zone=zone)
        for i, zone in enumerate([ZONE, ZONE, ZONE, "passes-2", "passes-2"], 1)
    ]
    before = {p.name: generation(p) for p in providers}
    anti = group(ServerGroupPolicy.ANTI_AFFINITY, [])
    affine = group(ServerGroupPolicy.AFFINITY, [])
    requests = [
        request(resources=TINY),
        request(resources=LARGE),
        request(resources=SMALL, availability_zone="passes-2"),
        request(resources=SMALL, availability_zone="passes-2"),
        *(request(group_uuid=str(anti.uuid)) for _ in range(3)),
        *(request(resources=SMALL, group_uuid=str(affine.uuid)) for _ in range(3)),
    ]
    selections = select_destinations(requests)
    chosen = hosts_of(selections)
    assert None not in chosen
    assert set(chosen[2:4]) <= {"h4", "h5"}
    assert len(set(chosen[4:7])) == 3  # anti-affinity among members decided together
    assert len(set(chosen[7:10])) == 1  # affinity likewise
    members = dict(ServerGroupMember.objects.values_list("instance_uuid", "host"))
    assert {str(k): v for k, v in members.items()} == {
        r.instance_uuid: h for r, h in zip(requests[4:], chosen[4:], strict=True)
    }
    # One claim statement for the whole pass: each provider's generation moved once,
    # however many instances it took.
    assert {p.name: generation(p) - before[p.name] for p in providers} == {
        p.name: int(p.name in chosen) for p in providers
    }
    assert all(len(s.alternates) <= 2 and s.host not in s.alternates for s in selections)
    assert_used_is_the_sum_of_allocations()


def test_requests_of_one_pass_spread_over_the_room_left(db, settings):
    settings.CPU_WEIGHT_MULTIPLIER = settings.DISK_WEIGHT_MULTIPLIER = 0.0
    host("big", memory_mb=4096, vcpus=8)
    host("small", memory_mb=2048, vcpus=8)
    chosen = hosts_of(select_destinations([request(resources=SMALL) for _ in range(5)]))
    # Most free memory first, each request seeing what the ones before it took (a tie
    # goes to the first host found).
    assert chosen == ["big", "big", "big", "small", "big"]
    used = {n: usage(ResourceProvider.objects.get(name=n))["MEMORY_MB"] for n in ("big", "small")}
    assert used == {"big": 4096, "small": 1024}


def test_what_a_pass_cannot_place_is_decided_alone_with_its_fault(db):
    host("h1", memory_mb=2048, vcpus=8)
    host("h2", memory_mb=2048, vcpus=8)
    anti = group(ServerGroupPolicy.ANTI_AFFINITY, [])
    selections = select_destinations([request(group_uuid=str(anti.uuid)) for _ in range(3)])
    assert sorted(hosts_of(selections)[:2]) == ["h1", "h2"]
    assert selections[2].host is None
    assert f"already held members of anti-affinity group {anti.uuid}" in selections[2].error
    assert_used_is_the_sum_of_allocations()


def test_affinity_members_follow_the_group_already_placed(db):
    host("h1", memory_mb=8192, vcpus=8)
    host("h2", memory_mb=4096, vcpus=8)
    affine = group(ServerGroupPolicy.AFFINITY, ["h2"])
    chosen = hosts_of(
        select_destinations([request(group_uuid=str(affine.uuid)) for _ in range(3)] + [request()])
    )
    assert chosen == ["h2", "h2", "h2", "h1"]


def test_a_redelivered_request_in_a_pass_keeps_its_claim(db):
    first = host("h1", memory_mb=8192, vcpus=8)
    host("h2", memory_mb=4096, vcpus=8)
    again = request()
    allocations_claim_new_many([(again.instance_uuid, "p", first.pk, TINY)])
    requests = [request(), again, request()]
    selections = select_destinations(requests)
    assert selections[1].host == "h1"
    assert None not in hosts_of(selections)
    assert Allocation.objects.filter(consumer_id=again.instance_uuid).count() == 3


def test_the_same_request_twice_in_a_pass_is_claimed_once(db):
    host("h1", memory_mb=8192, vcpus=8)
    twice = request()
    selections = select_destinations([twice, request(), twice])
    assert selections[0] == selections[2] and selections[0].host == "h1"
    assert Allocation.objects.filter(consumer_id=twice.instance_uuid).count() == 3
    assert_used_is_the_sum_of_allocations()


def test_what_a_pass_lost_to_a_race_is_planned_again_on_fresh_reads(transactional_db):
    raced = host("raced", memory_mb=4096, vcpus=8)
    host("other", memory_mb=3072, vcpus=8)
    other = locked(raced)
    # Another claim under way on "raced" takes all of its memory, then commits.
    other.execute(
        f"UPDATE {Inventory._meta.db_table} SET used = capacity WHERE provider_id = %s "
        "AND resource_class = 'MEMORY_MB'",
        [raced.pk],
    )

    def decide() -> list[Selection]:
        try:
            return select_destinations([request(resources=SMALL) for _ in range(3)])
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(decide)
        try:
            wait_until_queued_behind(other)  # the pass's claim waits for the other
            other.commit()
        finally:
            other.close()
        selections = pending.result(timeout=30)
    assert hosts_of(selections) == ["other", "other", "other"]
    assert Allocation.objects.filter(provider=raced).count() == 0


@contextlib.contextmanager
def _another_pass_planning():
    """Another scheduler process's pass, planning one request (its scan's hosts marked)
    until the block ends; yields the hosts it planned on."""
    planned: list[str] = []
    planning, finish = threading.Event(), threading.Event()

    def other_pass() -> None:
        try:
            with transaction.atomic():
                plan = services._plan([Scheduling(request())])
                planned.extend(h.name for _, h, _ in plan)
                planning.set()
                finish.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=other_pass)
    other.start()
    try:
        assert planning.wait(10)
        yield planned
    finally:
        finish.set()
        other.join(10)


def test_a_pass_plans_on_the_next_hosts_while_another_plans_on_the_best(transactional_db, settings):
    """Two scheduler processes' passes at once: the second passes over the hosts the
    first is planning on (until its claim commits) and takes the next ones in order."""
    settings.SCHEDULER_MAX_CANDIDATES = 2  # the other pass's scan marks h1 and h2
    for index, memory in enumerate([8192, 7168, 6144, 5120], 1):
        host(f"h{index}", memory_mb=memory, vcpus=8)
    with _another_pass_planning() as planned:
        decided = services.decide_pass([request(), request()])
    assert planned == ["h1"]
    assert {s.host for s in decided.selections.values()} <= {"h3", "h4"}
    assert len(decided.selections) == 2
    assert decided.raced == []
    # Once the other pass is over, the best hosts are everyone's again.
    assert {s.host for s in select_destinations([request(), request()])} <= {"h1", "h2"}


def test_where_other_passes_plan_on_every_host_a_pass_plans_there_too(transactional_db):
    """A small cloud: another pass marked every host. The pass plans on them all the
    same, in one claim, rather than falling back to one request at a time."""
    for index in (1, 2):
        host(f"h{index}", memory_mb=8192, vcpus=8)
    with _another_pass_planning(), CaptureQueriesContext(connection) as queries:
        decided = services.decide_pass([request() for _ in range(3)])
    assert len(decided.selections) == 3 and None not in hosts_of(decided.selections.values())
    claims = [q["sql"] for q in queries.captured_queries if "INSERT INTO" in q["sql"]]
    assert len(claims) == 1, claims  # the pass's one claim, no claim of its own per request
    assert_used_is_the_sum_of_allocations()


def _recording(calls: list[list[str]], gate: threading.Event | None = None, races: int = 0):
    """A decide that records each pass's requests; requests of the project "racing"
    lose their race `races` times (unless final), those of "fails" fail the pass."""
    lost: dict[str, int] = {}

    def decide(requests: list[SchedulingRequest], final: set[str]) -> Decided:
        calls.append([r.instance_uuid for r in requests])
        if gate is not None and len(calls) == 1:
            gate.wait(5)
        if any(r.project_id == "fails" for r in requests):
            raise RuntimeError("database gone")
        raced = []
        for r in requests:
            if r.project_id == "racing" and r.instance_uuid not in final:
                lost[r.instance_uuid] = lost.get(r.instance_uuid, 0) + 1
                if lost[r.instance_uuid] <= races:
                    raced.append(r)
        return Decided(
            selections={
                r.instance_uuid: Selection(host=f"host-of-{r.instance_uuid}", alternates=[])
                for r in requests
                if r not in raced
            },
            raced=raced,
        )

    return decide


def _submit(passes: Passes, uuid: str, project: str = "p") -> threading.Thread:
    results: dict = {}

    def run():
        try:
            results["selection"] = passes.decide([SchedulingRequest(uuid, project, TINY)])
        except RuntimeError as exc:
            results["error"] = str(exc)

    thread = threading.Thread(target=run)
    thread.results = results
    thread.start()
    return thread


class _Watched(queue.SimpleQueue):
    """A decider's queue of waiting requests that counts what the decider took."""

    def __init__(self) -> None:
        self.taken = 0

    def get(self, block: bool = True, timeout: float | None = None):
        item = super().get(block, timeout)
        self.taken += 1
        return item


def _watched(passes: Passes) -> _Watched:
    passes._waiting = watched = _Watched()
    return watched


def _queued_behind_a_pass(size: int, queued: list[tuple[str, str]], linger: float = 0.0):
    """Requests that queue while a first one ("a") is being decided, then the passes."""
    calls: list[list[str]] = []
    gate = threading.Event()
    passes = Passes(_recording(calls, gate), size=size, linger=linger)
    waiting = _watched(passes)
    first = _submit(passes, "a")
    wait_for(lambda: calls, 5, interval=0.01, message="the first pass under way")
    threads = [_submit(passes, uuid, project) for uuid, project in queued]
    wait_for(
        lambda: waiting.qsize() == len(queued),
        5,
        interval=0.01,
        message="the other requests waiting for the next pass",
    )
    gate.set()
    for thread in [first, *threads]:
        thread.join(5)
    return passes, calls, threads


def test_requests_waiting_during_a_pass_are_decided_in_the_next_one():
    _, calls, waiting = _queued_behind_a_pass(4, [(uuid, "p") for uuid in "bcdef"])
    # A lone request is decided at once; the five that queued meanwhile go in passes of
    # at most four, each task receiving its own answer.
    assert calls == [["a"], ["b", "c", "d", "e"], ["f"]]
    assert [t.results["selection"][0].host for t in waiting] == [
        f"host-of-{uuid}" for uuid in "bcdef"
    ]


def test_requests_that_lost_a_race_lead_the_next_pass():
    calls: list[list[str]] = []
    gate = threading.Event()
    passes = Passes(_recording(calls, gate, races=1), size=4, linger=0.0)
    waiting = _watched(passes)
    first = _submit(passes, "a")
    wait_for(lambda: calls, 5, interval=0.01, message="the first pass under way")
    threads = [_submit(passes, name, "racing" if name == "b" else "p") for name in "bcdef"]
    wait_for(lambda: waiting.qsize() == 5, 5, interval=0.01, message="five waiting")
    gate.set()
    for thread in [first, *threads]:
        thread.join(5)
    # "b" lost its race in its first pass: planned again first in the next one, with no
    # pass of its own; its task waited for it and got its own answer.
    assert calls == [["a"], ["b", "c", "d", "e"], ["b", "f"]]
    assert [t.results["selection"][0].host for t in threads] == [
        f"host-of-{name}" for name in "bcdef"
    ]


def test_a_request_that_keeps_losing_races_is_decided_alone_in_the_end():
    calls: list[list[str]] = []
    passes = Passes(_recording(calls, races=100), size=4, linger=0.0)
    task = _submit(passes, "b", "racing")
    task.join(5)
    # Each pass plans it again, the last of PASS_ATTEMPTS as final: decided alone then.
    assert calls == [["b"]] * PASS_ATTEMPTS
    assert task.results["selection"][0].host == "host-of-b"


def test_an_idle_decider_decides_a_lone_request_at_once():
    calls: list[list[str]] = []
    # A linger far longer than the wait below: a lone request held for it would fail.
    passes = Passes(_recording(calls), size=8, linger=60.0)
    for name in "ab":
        thread = _submit(passes, name)
        thread.join(5)
        assert not thread.is_alive(), f"{name} was held back"
    assert calls == [["a"], ["b"]]


def test_under_load_a_pass_lingers_for_requests_arriving_just_after_the_first():
    # The pass of "b" and "c" held several requests: the next one waits for more, up to
    # the linger (far longer than the test) or until it is full (two).
    passes, calls, _ = _queued_behind_a_pass(2, [("b", "p"), ("c", "p")], linger=60.0)
    waiting = passes._waiting
    first = _submit(passes, "d")
    wait_for(lambda: waiting.taken == 4, 5, interval=0.01, message="d taken for its pass")
    second = _submit(passes, "e")
    for thread in (first, second):
        thread.join(5)
        assert not thread.is_alive()
    assert calls == [["a"], ["b", "c"], ["d", "e"]]


def test_a_failed_pass_raises_in_every_task_it_held():
    passes, _, waiting = _queued_behind_a_pass(8, [("b", "fails"), ("c", "p")])
    assert [t.results.get("error") for t in waiting] == ["database gone", "database gone"]
    # The decider goes on with the next pass.
    later = _submit(passes, "d")
    later.join(5)
    assert later.results["selection"][0].host == "host-of-d"


def test_the_scheduler_workers_decide_queued_requests_in_passes(cloud):
    """The real scheduler workers (two processes, 16 task threads each): requests sent
    at once are decided in passes of several, and every one is claimed exactly once."""
    small = {"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1}
    specs = [
        {"instance_uuid": str(uuid.uuid4()), "project_id": "p", "resources": small}
        for _ in range(24)
    ]
    for spec in specs:
        app.send_task("scheduler.select_destinations", args=(spec,))
    consumers = Consumer.objects.filter(uuid__in=[s["instance_uuid"] for s in specs])
    wait_for(lambda: consumers.count() == len(specs), 30, message="every request claimed")
    assert Allocation.objects.filter(consumer_id__in=consumers.values("uuid")).count() == 72
    assert_used_is_the_sum_of_allocations()
    logs = "".join(
        (cloud.logdir / f"scheduler-{index}.log").read_text(errors="replace") for index in (1, 2)
    )
    sizes = [int(n) for n in re.findall(r"decided (\d+) requests of \d+ tasks in one pass", logs)]
    assert sizes and max(sizes) > 1, "no pass decided more than one request"


@pytest.fixture(autouse=True)
def _close_decider_connections():
    yield
    connection.close()
