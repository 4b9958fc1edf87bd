"""Integration fixtures: the test database on PostgreSQL, real Celery workers as
separate processes (conductor, network controller, two schedulers, compute hosts on
libvirt's test hypervisor), an api process the compute hosts fetch images from and
upload snapshots to over HTTP, and API clients holding real Keystone tokens.

Tests with workers use `transactional_db` (through `cloud`): the workers are other
processes and only see committed rows. The services tested here without workers
(scheduler, placement, conductor on PostgreSQL) use `db` unless their own threads
need committed rows. Tests of the HTTP API that need no worker are in tests/api.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test.testcases import TransactionTestCase
from rest_framework.test import APIClient

from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_names_schedulable
from cloud.identity.services import project_user_ensure
from cloud.instances.management.commands.seed import seed_catalog
from cloud.instances.models import Instance
from cloud.messaging import HEARTBEAT_QUEUE
from tests.fixtures import admin_api, api, seeded  # noqa: F401 - fixtures
from tests.helpers import PASSWORD, token_for

ROOT = Path(__file__).resolve().parents[2]


# Two small hosts: each has room for exactly five m1.tiny (512 MB) servers.
HOSTS = {"itest-a": 2560, "itest-b": 2560}
HOST_CPUS = 4
HOST_DISK_GB = 100
HEARTBEAT = 1.0
# A host silent this long is down, to the workers and to this process's api alike: the
# wait for "both hosts up" must be the scheduler's, or a test can begin while heartbeats
# queued behind a slow conductor's start still leave the hosts down to the scheduler.
SERVICE_DOWN_TIME = 10
IMAGE_CACHE_MAX_AGE = 3
WORKER_OPTIONS = ["--without-mingle", "--without-gossip", "-l", "INFO"]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        # A failure under CI=true (tests/conftest.py): CI must run them.
        pytest.skip("integration tests run on PostgreSQL: set DATABASE_URL (make test does)")
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def _host_xml(directory: Path, host: str, memory_mb: int, domains: str = "") -> str:
    """A test hypervisor of that size, holding `domains` (libvirt domain XML) at start."""
    path = directory / f"{host}.xml"
    path.write_text(
        f"<node><cpu><mhz>2000</mhz><model>x86_64</model><nodes>1</nodes><sockets>1</sockets>"
        f"<cores>{HOST_CPUS}</cores><threads>1</threads><active>{HOST_CPUS}</active></cpu>"
        f"<memory>{memory_mb * 1024}</memory>{domains}</node>"
    )
    return f"test://{path}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Workers:
    """Real worker processes, stopped at the end of the session."""

    def __init__(self, database_url: str, logdir: Path) -> None:
        self.database_url = database_url
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}
        # The api process (start_api): the image API as the hosts reach it, and the
        # image store it shares with this test process (which uploads through APIClient).
        self.api_url = f"http://127.0.0.1:{_free_port()}"
        self.image_store = logdir / "images"

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(
            os.environ,
            PYTHONUNBUFFERED="1",
            DB_CONN_MAX_AGE="0",
            DATABASE_URL=self.database_url,
            SERVICE_DOWN_TIME=str(SERVICE_DOWN_TIME),
            # Off by default (an unread queue grows); test_operators reads them.
            NOTIFICATIONS_ENABLED="true",
            # One attempt per host: a build that fails on both gives up with its own fault.
            SCHEDULER_MAX_ATTEMPTS=str(len(HOSTS)),
            IMAGE_API_URL=f"{self.api_url}/image",
            IMAGE_STORE_DIR=str(self.image_store),
        )
        env.update(extra)
        return env

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.spawn(name, [sys.executable, "-m", "celery", *argv], env)

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        # A second process under one name would outlive stop_one and go on taking the
        # first one's queue.
        running = self.procs.get(name)
        assert running is None or running.poll() is not None, f"{name} is already running"
        # Appended to: a worker started again after a crash keeps the story in one file.
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        self.procs[name] = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_api(self) -> None:
        """The api on `api_url` (runserver, as `make run` starts it), up when this returns:
        the compute hosts download images from it and upload snapshots to it."""
        port = self.api_url.rsplit(":", 1)[1]
        self.spawn(
            "api",
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}"]
            + ["--noreload", "--insecure"],
            self._env(),
        )

        def answers() -> bool:
            try:
                return requests.get(f"{self.api_url}/image/", timeout=2).status_code < 500
            except requests.ConnectionError:
                return False

        wait_for(answers, 60, message=f"the api on {self.api_url}; dead: {self.dead()}")

    def start_conductor(self, name: str = "conductor", **extra: str) -> None:
        """The conductor worker; `extra` adds to its environment (e.g. PAYLOAD_VERSION_PIN
        to pin it to an older payload version)."""
        self.start(
            name,
            [
                "-A",
                "cloud.celery",
                "worker",
                "-Q",
                "conductor,conductor.heartbeat",
                "-n",
                f"{name}@%h",
                "-P",
                "threads",
                "-c",
                "4",
                *WORKER_OPTIONS,
            ],
            self._env(**extra),
        )

    def start_network(self, **extra: str) -> None:
        """The network controller worker (queue `network`)."""
        self.start(
            "network",
            [
                "-A",
                "cloud.celery",
                "worker",
                "-Q",
                "network",
                "-n",
                "network@%h",
                "-P",
                "threads",
                "-c",
                "4",
                *WORKER_OPTIONS,
            ],
            self._env(**extra),
        )

    def start_scheduler(self, index: int, **extra: str) -> None:
        """Scheduler worker `scheduler-<index>`; `extra` adds to its environment."""
        self.start(
            f"scheduler-{index}",
            [
                "-A",
                "cloud.celery",
                "worker",
                "-Q",
                "scheduler",
                "-n",
                f"scheduler{index}@%h",
                "-P",
                "threads",
                "-c",
                "16",
                *WORKER_OPTIONS,
            ],
            self._env(**extra),
        )

    def stop_one(self, name: str) -> None:
        """Stop a worker as an operator would (SIGTERM: it finishes the task in hand)."""
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)

    def start_compute(self, host: str, uri: str, **extra: str) -> None:
        """A compute worker process for `host`; `extra` adds to its environment, or
        overrides it (e.g. COMPUTE_PAYLOAD_VERSION to pin it to an older payload
        version, COMPUTE_DISK_GB for a larger host)."""
        env = {
            k: v
            for k, v in self._env().items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            COMPUTE_HOST=host,
            LIBVIRT_URI=uri,
            HEARTBEAT_INTERVAL=str(HEARTBEAT),
            COMPUTE_DISK_GB=str(HOST_DISK_GB),
            COMPUTE_INSTANCES_PATH=str(self.logdir / "instances" / host),
            # The periodic power-state sync would race tests that change states behind
            # the host's back (os-resetState); a host syncs at once when it starts, which
            # is how the tests of the sync drive it.
            POWER_SYNC_INTERVAL="3600",
            # Unused cached base images go soon after their last guest (test_image_boot).
            IMAGE_CACHE_INTERVAL="1",
            IMAGE_CACHE_MAX_AGE=str(IMAGE_CACHE_MAX_AGE),
        )
        env.update(extra)
        self.start(
            host,
            [
                "-A",
                "cloud.workers.app",
                "worker",
                "-Q",
                f"compute.{host}",
                "-n",
                f"{host}@%h",
                "-P",
                "solo",
                "-l",
                "INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            env,
        )

    def start_volume(self, backend: str, driver: str = "", **extra: str) -> Path:
        """The volume worker of `backend` (no database), its volumes under the session's
        directory; returns that directory."""
        env = {
            k: v
            for k, v in self._env().items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        path = self.logdir / "volumes" / backend
        port = _free_port()  # the first of the nbd exports' ports (taken ones are skipped)
        env.update(
            VOLUME_BACKEND=backend,
            VOLUME_DRIVER=driver or backend,
            VOLUME_HOST=f"vol-{backend}",
            VOLUME_PATH=str(path),
            VOLUME_HEARTBEAT_INTERVAL=str(HEARTBEAT),
            VOLUME_EXPORT_PORT_RANGE=f"{port}:{port + 20}",
            **extra,
        )
        self.start(
            f"volume-{backend}",
            ["-A", "cloud.volumeworker.app", "worker", "-Q", f"volume.{backend}"]
            + ["-n", f"volume-{backend}@%h", "-P", "threads", "-c", "4", *WORKER_OPTIONS],
            env,
        )
        return path

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def kill(self, name: str) -> None:
        """kill -9 a worker, as a crash would (a stopped process dies too)."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(15)

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]


@pytest.fixture(scope="session")
def workers(django_db_setup, django_db_blocker):
    database_url = _database_url()
    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    logdir = Path(tempfile.mkdtemp(prefix="stratus-itest-"))
    group = Workers(database_url, logdir)
    # This process builds snapshot requests and takes uploads (APIClient) too.
    settings.IMAGE_API_URL = f"{group.api_url}/image"
    settings.IMAGE_STORE_DIR = group.image_store
    settings.SERVICE_DOWN_TIME = SERVICE_DOWN_TIME
    settings.NOTIFICATIONS_ENABLED = True
    group.start_api()
    group.start_conductor()
    group.start_network()
    for index in (1, 2):
        group.start_scheduler(index)
    for host, memory in HOSTS.items():
        group.start_compute(host, _host_xml(logdir, host, memory))
    yield group
    group.stop()
    if os.environ.get("KEEP_WORKER_LOGS"):
        print(f"worker logs in {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)


def wait_for(predicate, timeout: float, interval: float = 0.2, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message}")


def heartbeats_handled() -> None:
    """Every heartbeat sent is handled (none queued, none in hand): a host stopped before
    this can bring no row back once the test's tables are emptied."""
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    wait_for(
        lambda: not broker.llen(HEARTBEAT_QUEUE) and not broker.hlen("unacked"),
        30,
        interval=0.1,
        message="heartbeats handled",
    )


@pytest.fixture
def cloud(workers, transactional_db):
    """Seeded flavors and image, both hosts up, and the worker group."""
    seed_catalog()
    # The first test of a session waits for the workers to start: on a loaded 2-core
    # machine a Celery worker takes well over 20 s to import and report in, and CI has
    # seen 80 s before the conductor handled the hosts' first heartbeats.
    wait_for(
        lambda: host_names_schedulable().count() == len(HOSTS),
        180,
        message=f"hosts up; dead workers: {workers.dead()}",
    )
    yield workers
    # Leave no work in flight when the tables are emptied for the next test:
    # no build unfinished, and no task queued or being worked on (acks_late
    # keeps a running task in kombu's `unacked` hash until it is done).
    wait_for(
        lambda: not Instance.objects.filter(vm_state="building", deleted=False).exists(),
        30,
        message="builds settled",
    )
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    queues = ["conductor", "scheduler", "network", *(f"compute.{host}" for host in HOSTS)]
    wait_for(
        lambda: (
            not any(broker.llen(q) for q in queues)
            and not broker.hlen("unacked")
            and not broker.hlen("unacked.compute")
        ),
        30,
        interval=0.1,
        message="task queues drained",
    )
    connection.close()


def _client(username: str, project: str, role: str) -> APIClient:
    project_user_ensure(
        project_name=project,
        username=username,
        password=PASSWORD,
        role_name=role,
        is_superuser=role == "admin",
    )
    client = APIClient()
    client.credentials(
        HTTP_X_AUTH_TOKEN=token_for(username, project), HTTP_OPENSTACK_API_VERSION="compute 2.96"
    )
    return client


@pytest.fixture
def admin_client(cloud) -> APIClient:
    return _client("admin", "admin", "admin")


@pytest.fixture
def member_client(cloud) -> APIClient:
    return _client("alice", "alpha", "member")


def compute_node(host: str) -> ComputeNode:
    return ComputeNode.objects.get(host=host)


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_worker_deadlocks():
    """Emptying the tables after a test TRUNCATEs them while the workers (other
    processes) still send heartbeats and read hosts; PostgreSQL may then pick the
    TRUNCATE as a deadlock victim. Retry it: nothing was emptied, nothing is lost."""
    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except CommandError as exc:
                if attempt == 4 or not isinstance(exc.__cause__, OperationalError):
                    raise
                time.sleep(0.2)

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original
