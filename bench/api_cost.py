#!/usr/bin/env python
"""The API's fixed cost per request: gunicorn (2 workers) on PostgreSQL, 1,000 providers,
10,000 servers.

    .venv/bin/python bench/api_cost.py                  # the figures, beside targets and baseline
    .venv/bin/python bench/api_cost.py --save           # and keep them (bench/results)
    .venv/bin/python bench/api_cost.py --app-root DIR   # serve another checkout (a before figure)

It migrates and seeds the database named by DATABASE_URL (default
postgres://stratus:stratus@127.0.0.1:5432/stratus_api_cost, created when missing;
its placement tables are emptied), writes 1,000 resource providers with VCPU and
MEMORY_MB inventories, starts the API alone on a free port (gunicorn, 2 workers of 4
threads, the Redis cache of REDIS_URL as a stack has it) and signs in as the seeded
admin. Then, over persistent connections:

- a trivial authenticated GET: `GET /identity/v3/auth/tokens` validating the caller's
  own token (token validation, a policy check and the catalog, nothing else);
- `GET /placement/resource_providers/{id}/usages`;
- `GET /placement/allocation_candidates` that 1,000 providers answer;
- claims (`PUT /placement/allocations/{new consumer}` on a random provider) per second
  from 1 client and from 8;
- `GET /compute/v2.1/servers/detail?limit=1000` of the admin project's 10,000 servers
  (`--servers`, rows written as a boot leaves them), and the wall time of paging
  through all of them, 1,000 a page, by marker, as the CLI does.

Times are the server's, from gunicorn's access log (`%(D)s`, request in to response
out, in the worker): the median of each, with the client's median round trip beside
it. Claims per second are the clients' wall figure. A `baseline` column gives the
saved figures. Run it several times on a quiet machine; record `uptime`.
"""

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "api_cost.json"
DEFAULT_DB = "postgres://stratus:stratus@127.0.0.1:5432/stratus_api_cost"
PLACEMENT = {"OpenStack-API-Version": "placement 1.39"}
# (figure, target, "<" for an upper bound of ms, ">" for a lower bound of /s)
TARGETS = {
    "trivial_get_ms": (3.0, "<"),
    "usages_ms": (5.0, "<"),
    "candidates_1000_ms": (60.0, "<"),
    "claims_per_s_1_client": (None, ">"),
    "claims_per_s_8_clients": (300.0, ">"),
    "servers_detail_1000_ms": (150.0, "<"),
    "servers_all_paged_ms": (1000.0, "<"),
}
COMPUTE = {"OpenStack-API-Version": "compute 2.96"}

sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[api-cost] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloud.settings")
    import django

    django.setup()


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    args = {k.lower(): db[k] for k in ("HOST", "PORT", "USER", "PASSWORD")}
    try:
        psycopg.connect(dbname=db["NAME"], **args).close()
    except psycopg.OperationalError:
        with psycopg.connect(dbname="postgres", autocommit=True, **args) as conn:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def prepare(app_root: Path, env: dict, providers: int, servers: int, password: str) -> None:
    """Migrate and seed with the served checkout's code, then write the providers and
    the admin project's servers."""
    manage = [sys.executable, str(app_root / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=app_root)
    subprocess.run(
        [*manage, "seed", f"--admin-password={password}", f"--demo-password={password}"],
        env=env,
        check=True,
        cwd=app_root,
        stdout=subprocess.DEVNULL,
    )
    from django.db import connection, transaction

    from cloud.instances.models import Instance
    from cloud.placement.models import Allocation, Consumer, Inventory, ResourceProvider

    with connection.cursor() as cursor:
        for model in (Allocation, Consumer, Inventory):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        cursor.execute(
            f"DELETE FROM {ResourceProvider._meta.db_table} WHERE id NOT IN "
            f"(SELECT provider_id FROM {Inventory._meta.db_table})"
        )
    with transaction.atomic():
        created = ResourceProvider.objects.bulk_create(
            ResourceProvider(name=f"api-cost-{index:05d}") for index in range(providers)
        )
        Inventory.objects.bulk_create(
            Inventory(
                provider=provider,
                resource_class=rc,
                total=total,
                max_unit=total,
                allocation_ratio=1.0,
                capacity=total,
                used=0,
            )
            for provider in created
            for rc, total in (("VCPU", 100000), ("MEMORY_MB", 10000000))
        )
    servers_seed(servers)
    with connection.cursor() as cursor:
        for model in (Inventory, ResourceProvider, Consumer, Allocation, Instance):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    connection.close()


def servers_seed(count: int) -> None:
    """`count` ACTIVE servers of the admin project (rows as a boot leaves them)."""
    from django.utils import timezone

    from cloud.identity.models import Project, User
    from cloud.instances.models import Flavor, Instance

    project = Project.objects.get(name="admin")
    user = User.objects.get(username="admin")
    flavor = Flavor.objects.get(flavorid="1")
    shape = {
        "flavorid": flavor.flavorid,
        "name": flavor.name,
        "vcpus": flavor.vcpus,
        "memory_mb": flavor.memory_mb,
        "root_gb": flavor.root_gb,
        "ephemeral_gb": 0,
        "swap": 0,
        "extra_specs": {},
    }
    Instance.objects.filter(project_id=project.id).delete()
    now = timezone.now()
    Instance.objects.bulk_create(
        (
            Instance(
                display_name=f"api-cost-{index:05d}",
                hostname=f"api-cost-{index:05d}",
                project_id=project.id,
                user_id=user.id,
                flavor=shape,
                vcpus=flavor.vcpus,
                memory_mb=flavor.memory_mb,
                vm_state="active",
                power_state=1,
                progress=100,
                host=f"api-cost-{index % 100:05d}",
                node=f"api-cost-{index % 100:05d}",
                launched_at=now,
            )
            for index in range(count)
        ),
        batch_size=2000,
    )


class Api:
    """gunicorn serving the checkout at `app_root`, its access log giving server times."""

    def __init__(self, app_root: Path, env: dict, var: Path) -> None:
        self.app_root = app_root
        self.env = env
        self.var = var
        self.port = free_port()
        self.access = var / "access.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        cmd = [
            str(gunicorn),
            "cloud.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "120",
            "--access-logfile",
            str(self.access),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
            # As the stack and the unit run it (keep-alive, the heap frozen).
            "--config",
            "python:cloud.operators.gunicorn",
        ]
        logfile = (self.var / "api.log").open("w")
        self.proc = subprocess.Popen(
            cmd, cwd=self.app_root, env=self.env, stdout=logfile, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/identity/v3")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the API did not start; see {self.var / 'api.log'}")

    def mark(self) -> int:
        """Where the access log ends now (the figures after it are the next step's)."""
        return self.access.stat().st_size if self.access.exists() else 0

    def server_ms(self, since: int, path_prefix: str) -> list[float]:
        """The server times, in ms, of the requests to `path_prefix` logged after `since`."""
        deadline = time.monotonic() + 5
        times: list[float] = []
        while time.monotonic() < deadline:
            with self.access.open() as handle:
                handle.seek(since)
                lines = handle.read().splitlines()
            times = [
                int(fields[3]) / 1000
                for fields in (line.split() for line in lines)
                if len(fields) == 4 and fields[1].startswith(path_prefix)
            ]
            if times:
                return times
            time.sleep(0.1)
        return times

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Client:
    """One persistent connection."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def call(self, method: str, path: str, body=None, headers: dict | None = None):
        sent = {"Accept": "application/json", **(headers or {})}
        if self.token:
            sent["X-Auth-Token"] = self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=sent)
        reply = self.conn.getresponse()
        content = reply.read()
        return reply.status, reply.headers, content


def sign_in(port: int, password: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    status, headers, content = Client(port).call("POST", "/identity/v3/auth/tokens", body)
    if status != 201:
        raise RuntimeError(f"sign-in failed: {status} {content[:200]!r}")
    return headers["X-Subject-Token"]


def timed_gets(
    api: Api, client: Client, path: str, count: int, headers: dict | None = None, check=None
) -> tuple[float, float]:
    """(server median ms, client median ms) of `count` GETs of `path` after a warm-up."""
    for _ in range(5):
        status, _, content = client.call("GET", path, headers=headers)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {content[:300]!r}")
        if check:
            check(json.loads(content))
    since = api.mark()
    rounds = []
    for _ in range(count):
        began = time.perf_counter()
        status, _, _ = client.call("GET", path, headers=headers)
        rounds.append((time.perf_counter() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
    server = api.server_ms(since, path.split("?")[0])
    return statistics.median(server), statistics.median(rounds)


def rows(key: str, expected: int):
    """A check for timed_gets: the answer lists `expected` items under `key`."""

    def check(body: dict) -> None:
        if len(body[key]) != expected:
            raise RuntimeError(f"{key}: {len(body[key])}, not {expected}")

    return check


def claims_per_s(port: int, token: str, providers: list[str], clients: int, count: int) -> float:
    """New consumers' allocation PUTs from `clients` threads, `count` in all, per second."""
    per_client = count // clients
    failures: list[str] = []
    start = threading.Barrier(clients + 1)

    def run(seed: int) -> None:
        client = Client(port, token)
        client.call("GET", "/placement/", headers=PLACEMENT)
        start.wait()
        for index in range(per_client):
            provider = providers[(seed * 7919 + index * 104729) % len(providers)]
            body = {
                "allocations": {provider: {"resources": {"VCPU": 1, "MEMORY_MB": 256}}},
                "project_id": uuid.uuid4().hex,
                "user_id": uuid.uuid4().hex,
                "consumer_generation": None,
                "consumer_type": "INSTANCE",
            }
            status, _, content = client.call(
                "PUT", f"/placement/allocations/{uuid.uuid4()}", body, PLACEMENT
            )
            if status != 204:
                failures.append(f"{status} {content[:200]!r}")

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} claims failed, first: {failures[0]}")
    return per_client * clients / wall


def measure(api: Api, token: str, args: argparse.Namespace) -> dict:
    client = Client(api.port, token)
    figures: dict = {}
    trivial = timed_gets(
        api, client, "/identity/v3/auth/tokens", args.requests, {"X-Subject-Token": token}
    )
    status, _, content = client.call(
        "GET", "/placement/resource_providers?name=api-cost-00000", headers=PLACEMENT
    )
    provider = json.loads(content)["resource_providers"][0]["uuid"]
    usages = timed_gets(
        api, client, f"/placement/resource_providers/{provider}/usages", args.requests, PLACEMENT
    )

    candidates = timed_gets(
        api,
        client,
        "/placement/allocation_candidates?resources=VCPU:1,MEMORY_MB:256",
        max(10, args.requests // 10),
        PLACEMENT,
        rows("allocation_requests", args.providers),
    )
    status, _, content = client.call("GET", "/placement/resource_providers", headers=PLACEMENT)
    uuids = [p["uuid"] for p in json.loads(content)["resource_providers"]]
    figures["trivial_get_ms"], figures["trivial_get_client_ms"] = trivial
    figures["usages_ms"], figures["usages_client_ms"] = usages
    figures["candidates_1000_ms"], figures["candidates_1000_client_ms"] = candidates
    figures["claims_per_s_1_client"] = claims_per_s(api.port, token, uuids, 1, args.claims // 4)
    figures["claims_per_s_8_clients"] = claims_per_s(api.port, token, uuids, 8, args.claims)

    detail = timed_gets(
        api,
        client,
        "/compute/v2.1/servers/detail?limit=1000",
        max(10, args.requests // 30),
        COMPUTE,
        rows("servers", min(1000, args.servers)),
    )
    figures["servers_detail_1000_ms"], figures["servers_detail_1000_client_ms"] = detail
    figures["servers_all_paged_ms"] = servers_paged(client, args.servers)
    return {k: round(v, 2) for k, v in figures.items()}


def servers_paged(client: Client, expected: int) -> float:
    """Wall ms to page through all the project's servers, 1,000 a page, as the CLI does
    (the next page's marker is the last server of this one)."""
    began = time.perf_counter()
    seen, marker = 0, None
    while True:
        path = "/compute/v2.1/servers/detail?limit=1000" + (f"&marker={marker}" if marker else "")
        status, _, content = client.call("GET", path, headers=COMPUTE)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {content[:300]!r}")
        servers = json.loads(content)["servers"]
        seen += len(servers)
        if len(servers) < 1000:
            break
        marker = servers[-1]["id"]
    if seen != expected:
        raise RuntimeError(f"paged through {seen} servers, not {expected}")
    return (time.perf_counter() - began) * 1000


def report(figures: dict, saved: dict | None) -> None:
    for name, (target, sense) in TARGETS.items():
        value = figures[name]
        unit = "ms" if name.endswith("_ms") else "/s"
        client = figures.get(name.replace("_ms", "_client_ms")) if unit == "ms" else None
        line = f"{name:<24} {value:>9.2f} {unit}"
        if client is not None:
            line += f" (client round trip {client:.2f} ms)"
        if target is not None:
            met = value < target if sense == "<" else value >= target
            line += f"   target {sense} {target:g} {unit}: {'met' if met else 'NOT met'}"
        if saved and name in saved:
            line += f"   baseline {saved[name]:g} {unit} ({saved.get('measured_at', '?')})"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=10000, help="the admin project's")
    parser.add_argument("--requests", type=int, default=300, help="GETs per figure")
    parser.add_argument("--claims", type=int, default=2000, help="claims from the 8 clients")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--save", action="store_true", help="keep the figures as the baseline")
    args = parser.parse_args()
    setup_django()
    ensure_database()
    var = Path(tempfile.mkdtemp(prefix="stratus-api-cost-"))
    password = secrets.token_urlsafe(12)
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    env = {
        **os.environ,
        "STRATUS_VAR_DIR": str(var),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "CACHE_URL": os.environ.get("CACHE_URL", f"{redis}/3"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    api = Api(args.app_root.resolve(), env, var)
    try:
        log(
            f"preparing {args.providers} providers and {args.servers} servers in "
            f"{os.environ['DATABASE_URL']}"
        )
        prepare(api.app_root, env, args.providers, args.servers, password)
        log(f"starting gunicorn (2 workers) on port {api.port} from {api.app_root}")
        api.start()
        figures = measure(api, sign_in(api.port, password), args)
    finally:
        api.stop()
    figures["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    figures["load_average"] = os.getloadavg()[0]
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
    report(figures, saved)
    print(json.dumps(figures))
    if args.save:
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
