#!/usr/bin/env python
"""Scheduler benchmark: decisions (select + claim) per second against PostgreSQL.

    .venv/bin/python bench/scheduler.py            # 1,000 and 10,000 hosts; 1 and 4 processes
    .venv/bin/python bench/scheduler.py --hosts 1000 --processes 4 --batch 1 --threads 1 32
    .venv/bin/python bench/scheduler.py --save                  # keep the figures as the baseline

For each host count it writes N simulated compute hosts (a compute node row
with a fresh heartbeat, a resource provider, VCPU / MEMORY_MB / DISK_GB
inventories of varied sizes, spread over 4 availability zones) and realistic
partial usage (allocations of existing consumers, 20-70 % of each host's RAM).
Then R instances of mixed flavors, in API requests of B instances each
(`--batch`: 1 is one server per request; 10 is `server create --min 10 --max
10`), 10 % of the requests pinned to a zone, 10 % in anti-affinity groups of
8, 5 % in affinity groups of 4, are decided by P scheduler processes at once.
Each process runs as the scheduler worker does: T task threads (`--threads`,
the worker's `-c`) hand one API request each to the process's decider
(cloud.scheduler.passes), which decides the requests waiting together
(`select_destinations`: a SQL candidate scan per shape of request, filters,
weighers, and one atomic claim for the pass). All R requests are queued at the
start, as in a boot storm; `--threads 1` decides them one at a time.

It prints decisions (instances placed or refused) per second, p50/p95
latency of one API request's decision (from its hand-over to its answer,
waiting for the pass before it included), instances per pass, how many
instances found no host,
and the checks: providers overcommitted (used above capacity, or `used` not
equal to the sum of the allocations) and server groups whose policy was
broken; all must be 0. A `baseline` line compares
with bench/results/scheduler.json, and with OpenStack Placement measured on
this kind of machine (GET /allocation_candidates about 190 ms at 1,000
providers and 900 ms at 5,000, then about 45 ms per claim).

The database is DATABASE_URL's, default
postgres://stratus:stratus@127.0.0.1:5432/stratus_bench (created and
migrated when missing; its placement tables are emptied for each run).
"""

import argparse
import json
import logging
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scheduler.json"
DEFAULT_DB = "postgres://stratus:stratus@127.0.0.1:5432/stratus_bench"
ZONES = ["az1", "az2", "az3", "az4"]
FLAVORS = [  # (weight, VCPU, MEMORY_MB, DISK_GB)
    (40, 1, 512, 1),
    (30, 1, 2048, 20),
    (20, 2, 4096, 40),
    (10, 4, 8192, 80),
]
OPENSTACK_PLACEMENT = {1000: 1 / (0.190 + 0.045), 5000: 1 / (0.900 + 0.045)}

sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    # Heartbeats are simulated: every host is written as just heard from, and the run
    # must not outlast SERVICE_DOWN_TIME.
    os.environ["SERVICE_DOWN_TIME"] = "3600"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloud.settings")
    import django

    django.setup()


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db["PASSWORD"],
            dbname=db["NAME"],
        ).close()
    except psycopg.OperationalError:
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(hosts: int, seed: int) -> None:
    """N hosts with inventories and 20-70 % of their RAM already allocated."""
    from django.db import connection, transaction
    from django.utils import timezone

    from cloud.hosts.models import ComputeNode
    from cloud.placement.models import Allocation, Consumer, Inventory, ResourceProvider
    from cloud.scheduler.models import ServerGroup, ServerGroupMember

    rng = random.Random(seed)
    with connection.cursor() as cursor:
        for model in (ServerGroupMember, ServerGroup, Allocation, Consumer, Inventory):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        cursor.execute(f"DELETE FROM {ResourceProvider._meta.db_table}")
        cursor.execute(f"DELETE FROM {ComputeNode._meta.db_table}")
    now = timezone.now()
    batch = 2000
    for start in range(0, hosts, batch):
        names = [f"bench-{i:05d}" for i in range(start, min(start + batch, hosts))]
        with transaction.atomic():
            ComputeNode.objects.bulk_create(
                ComputeNode(
                    host=name,
                    hypervisor_hostname=name,
                    hypervisor_type="QEMU",
                    availability_zone=ZONES[i % len(ZONES)],
                    last_seen_at=now,
                    cpu_info={"arch": "x86_64"},
                )
                for i, name in enumerate(names, start)
            )
            providers = ResourceProvider.objects.bulk_create(
                ResourceProvider(name=name) for name in names
            )
            inventories, allocations, consumers = [], [], []
            for provider in providers:
                cpus = rng.choice([32, 48, 64])
                ram = rng.choice([131072, 262144, 524288])
                disk = 4000
                used = {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
                target = ram * rng.uniform(0.2, 0.7)
                while used["MEMORY_MB"] < target:
                    _, vcpu, mem, gb = rng.choices(FLAVORS, [f[0] for f in FLAVORS])[0]
                    if used["VCPU"] + vcpu > cpus * 4 or used["DISK_GB"] + gb > disk:
                        break
                    consumer = str(uuid.uuid4())
                    consumers.append(Consumer(uuid=consumer, project_id="bench"))
                    for rc, amount in (("VCPU", vcpu), ("MEMORY_MB", mem), ("DISK_GB", gb)):
                        used[rc] += amount
                        allocations.append(
                            Allocation(
                                provider=provider,
                                consumer_id=consumer,
                                project_id="bench",
                                resource_class=rc,
                                used=amount,
                            )
                        )
                for rc, total, ratio in (
                    ("VCPU", cpus, 4.0),
                    ("MEMORY_MB", ram, 1.0),
                    ("DISK_GB", disk, 1.0),
                ):
                    inventories.append(
                        Inventory(
                            provider=provider,
                            resource_class=rc,
                            total=total,
                            max_unit=total,
                            allocation_ratio=ratio,
                            capacity=int(total * ratio),
                            used=used[rc],
                        )
                    )
            Inventory.objects.bulk_create(inventories)
            Consumer.objects.bulk_create(consumers)
            Allocation.objects.bulk_create(allocations, batch_size=5000)
    with connection.cursor() as cursor:
        for model in (Inventory, Allocation, Consumer, ResourceProvider, ComputeNode):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def make_requests(count: int, seed: int, batch: int) -> list[list[dict]]:
    """`count` instances in API requests of `batch` instances each (a multi-create)."""
    from cloud.scheduler.models import ServerGroup

    rng = random.Random(seed + 1)
    requests, anti, affine = [], [], []
    for index in range(0, count, batch):
        _, vcpu, mem, gb = rng.choices(FLAVORS, [f[0] for f in FLAVORS])[0]
        spec = {
            "project_id": f"p{index % 50}",
            "resources": {"VCPU": vcpu, "MEMORY_MB": mem, "DISK_GB": gb},
        }
        roll = rng.random()
        if roll < 0.10:
            spec["availability_zone"] = rng.choice(ZONES)
        elif roll < 0.20:
            if not anti or anti[-1][1] >= 8:
                group = ServerGroup.objects.create(
                    name=f"anti-{len(anti)}",
                    project_id="bench",
                    user_id="u",
                    policy="anti-affinity",
                )
                anti.append([str(group.uuid), 0])
            anti[-1][1] += batch
            spec["group_uuid"] = anti[-1][0]
        elif roll < 0.25:
            if not affine or affine[-1][1] >= 4:
                group = ServerGroup.objects.create(
                    name=f"affinity-{len(affine)}",
                    project_id="bench",
                    user_id="u",
                    policy="affinity",
                )
                affine.append([str(group.uuid), 0])
            affine[-1][1] += batch
            spec["group_uuid"] = affine[-1][0]
        size = min(batch, count - index)
        requests.append([{**spec, "instance_uuid": str(uuid.uuid4())} for _ in range(size)])
    return requests


class _LostRaces(logging.Handler):
    """Counts the passes whose claim lost a race (then decided one by one)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += record.getMessage().startswith("a pass of")


def worker(batches: list[list[dict]], ready, out, threads: int) -> None:
    """One scheduler process, as the worker runs it: `threads` tasks at a time hand their
    API request to the process's decider (cloud.scheduler.passes), which decides the
    requests waiting together. The processes start together once every one is ready
    (`ready`, a barrier the parent waits at too). Each request's latency runs from its
    hand-over to its answer (select + claim, and any wait for the pass before it)."""
    setup_django()
    lost = _LostRaces()
    services_log = logging.getLogger("cloud.scheduler.services")
    services_log.setLevel(logging.INFO)
    services_log.addHandler(lost)
    services_log.propagate = False
    from django.db import connection

    from cloud.scheduler.passes import Passes
    from cloud.scheduler.request import SchedulingRequest
    from cloud.scheduler.services import decide_pass

    sizes: list[int] = []

    def decide(requests, final):
        sizes.append(len(requests))
        return decide_pass(requests, final)

    passes = Passes(decide)
    connection.close()
    pending = iter(batches)
    lock = threading.Lock()
    latencies: list[float] = []
    failed = 0

    def task() -> None:
        nonlocal failed
        while True:
            with lock:
                specs = next(pending, None)
            if specs is None:
                return
            began = time.perf_counter()
            selections = passes.decide([SchedulingRequest.from_dict(s) for s in specs])
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
                failed += sum(selection.host is None for selection in selections)

    tasks = [threading.Thread(target=task) for _ in range(threads)]
    ready.wait()
    for thread in tasks:
        thread.start()
    for thread in tasks:
        thread.join()
    out.put((latencies, failed, sizes, lost.count))


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every process, PostgreSQL's
    included; steal and idle not), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    ticks = user + nice + system + irq + softirq
    return ticks / os.sysconf("SC_CLK_TCK")


def checks() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM placement_inventory i
            LEFT JOIN (
                SELECT provider_id, resource_class, sum(used) AS total
                FROM placement_allocation GROUP BY provider_id, resource_class
            ) a ON a.provider_id = i.provider_id AND a.resource_class = i.resource_class
            WHERE i.used > i.capacity OR i.used <> coalesce(a.total, 0)
            """
        )
        overcommitted = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT m.group_id, m.host FROM scheduler_servergroupmember m
                JOIN scheduler_servergroup g ON g.id = m.group_id
                WHERE g.policy = 'anti-affinity' AND m.host IS NOT NULL
                GROUP BY m.group_id, m.host HAVING count(*) > 1
            ) clash
            """
        )
        anti_violations = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT m.group_id FROM scheduler_servergroupmember m
                JOIN scheduler_servergroup g ON g.id = m.group_id
                WHERE g.policy = 'affinity' AND m.host IS NOT NULL
                GROUP BY m.group_id HAVING count(DISTINCT m.host) > 1
            ) split
            """
        )
        affinity_violations = cursor.fetchone()[0]
    return {
        "overcommitted_providers": overcommitted,
        "anti_affinity_violations": anti_violations,
        "affinity_violations": affinity_violations,
    }


def run(hosts: int, requests: int, processes: int, seed: int, batch: int, threads: int) -> dict:
    populate(hosts, seed)
    specs = make_requests(requests, seed, batch)
    from django.db import connection

    connection.close()
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready = context.Barrier(processes + 1)
    shares = [specs[i::processes] for i in range(processes)]
    procs = [context.Process(target=worker, args=(share, ready, out, threads)) for share in shares]
    for proc in procs:
        proc.start()
    ready.wait()
    started, busy = time.time(), machine_busy()
    results = [out.get() for _ in procs]
    wall, busy = time.time() - started, machine_busy() - busy
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, *_ in results for x in lat)
    failed = sum(f for _, f, *_ in results)
    sizes = [size for _, _, sized, _ in results for size in sized]
    return {
        "hosts": hosts,
        "requests": requests,
        "processes": processes,
        "batch": batch,
        "threads": threads,
        "instances_per_pass": round(sum(sizes) / len(sizes), 1),
        "passes": len(sizes),
        "passes_lost_race": sum(lost for *_, lost in results),
        "decisions_per_s": round(requests / wall, 1),
        "cpu_ms_per_decision": round(busy * 1000 / requests, 3),
        "cores_busy": round(busy / wall, 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 2),
        "no_host": failed,
        **checks(),
    }


def describe(result: dict, hosts: int, threads: int, batch: int, requests: int) -> str:
    return (
        f"{hosts:>6} hosts, {result['processes']} process(es) x {threads} task(s), "
        f"{requests} instances in requests of {batch}: "
        f"{result['decisions_per_s']:>7.1f} decisions/s "
        f"({result['cpu_ms_per_decision']} ms CPU each, {result['cores_busy']} cores busy), "
        f"p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms, {result['instances_per_pass']} instances/pass, "
        f"{result['passes']} passes ({result['passes_lost_race']} claims lost a race, "
        "planned again), "
        f"no host {result['no_host']}, "
        f"overcommitted {result['overcommitted_providers']}, "
        f"anti-affinity violations {result['anti_affinity_violations']}, "
        f"affinity violations {result['affinity_violations']}"
    )


def _key(result: dict) -> tuple:
    return (result["hosts"], result["processes"], result.get("batch", 1), result.get("threads"))


def merged(saved: list[dict], measured: list[dict]) -> list[dict]:
    """The saved figures with those of the configurations just measured replaced."""
    fresh = {_key(r): r for r in measured}
    kept = [r for r in saved if _key(r) not in fresh]
    return sorted([*kept, *fresh.values()], key=lambda r: (r["hosts"], r["batch"], r["processes"]))


def median_run(runs: list[dict]) -> dict:
    """The run of median decisions/s (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda r: r["decisions_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def scaling_line(runs: dict[int, list[dict]], hosts: int, batch: int) -> str:
    """Each process count's median run, and the median over the repetitions of its
    decisions/s over one process's in the same repetition (runs side by side share the
    machine's spell, so their ratio is steadier than the ratio of medians)."""
    ones = runs.get(1, [])
    parts = []
    for processes, results in runs.items():
        part = f"{processes} process(es) {median_run(results)['decisions_per_s']}/s"
        if ones and processes != 1:
            ratios = sorted(
                r["decisions_per_s"] / one["decisions_per_s"]
                for r, one in zip(results, ones, strict=True)
            )
            shown = ", ".join(f"{x:.2f}" for x in ratios)
            part += f" ({statistics.median(ratios):.2f}x one; each run {shown})"
        parts.append(part)
    repeat = len(next(iter(runs.values())))
    return f"  median of {repeat} at {hosts} hosts, requests of {batch}: " + ", ".join(parts)


def baseline_line(result: dict, saved: list[dict]) -> str:
    key = (result["hosts"], result["processes"], result["batch"])
    before = next(
        (r for r in saved if (r["hosts"], r["processes"], r.get("batch", 1)) == key), None
    )
    parts = []
    if before:
        parts.append(
            f"saved {before['decisions_per_s']}/s p50 {before['p50_ms']} ms with "
            f"{before.get('threads', 1)} task(s) per process ({before.get('measured_at', '?')})"
        )
    reference = OPENSTACK_PLACEMENT.get(result["hosts"])
    if reference:
        parts.append(f"OpenStack Placement ~{reference:.1f}/s")
    return "baseline: " + ("; ".join(parts) if parts else "none saved")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, 10],
        help="instances per API request (a multi-create is decided together)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[32],
        help="tasks in each scheduler process at once (the worker's -c); 1: one at a time",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each process count, alternating; the median run is reported and saved",
    )
    parser.add_argument("--save", action="store_true", help="store the figures as the baseline")
    args = parser.parse_args()
    setup_django()
    ensure_database()
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    results, medians = [], []
    for hosts in args.hosts:
        for threads in args.threads:
            for batch in args.batch:
                # The process counts alternate, run after run, so a slow spell of the
                # shared machine falls on each alike; the median run of each is kept.
                runs: dict[int, list[dict]] = {p: [] for p in args.processes}
                for _ in range(args.repeat):
                    for processes in args.processes:
                        result = run(hosts, args.requests, processes, args.seed, batch, threads)
                        result["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                        results.append(result)
                        runs[processes].append(result)
                        print(describe(result, hosts, threads, batch, args.requests))
                        print("  " + baseline_line(result, saved))
                medians.extend(median_run(r) for r in runs.values())
                if len(runs) > 1 or args.repeat > 1:
                    print(scaling_line(runs, hosts, batch))
    print(json.dumps(results))
    if args.save:
        RESULTS.write_text(json.dumps(merged(saved, medians), indent=2) + "\n")
    bad = any(
        r["overcommitted_providers"] or r["anti_affinity_violations"] or r["affinity_violations"]
        for r in results
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
