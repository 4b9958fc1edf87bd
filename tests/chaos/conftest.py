"""The chaos suite's stack: its own PostgreSQL cluster and Redis (tests/chaos/services),
and the real processes on them, as tests/integration starts them: the api, two
conductors, two schedulers, three compute hosts on libvirt's test hypervisor, the
network controller and beat (the deadline reaper). Every worker loads
tests/chaos/duplicates, so every task is delivered twice; a worker that exits by
itself is started again, as systemd does.

This test process reads the same database (settings.DATABASES points at the suite's
cluster, not at a test database of pytest-django) to check what the platform holds
after the storm, and to give a restarted compute host the guests libvirt kept.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.chaos.services import PostgresCluster, PrivateRedis
from tests.integration.conftest import ROOT, Workers, wait_for

# Three simulated hosts, each with room for 128 m1.tiny servers (512 MB, 1 vCPU, 1 GB):
# two of them hold the whole storm while the third is away.
HOSTS = ("chaos-1", "chaos-2", "chaos-3")
HOST_CPUS = 32
HOST_MEMORY_MB = 64 * 1024
HOST_DISK_GB = 200
HEARTBEAT = 5.0
# Two conductors (one is killed): under the storm, with every task twice, one conductor
# on this 2-core machine is the bottleneck of the whole boot path.
CONDUCTORS = ("conductor-1", "conductor-2")
# A build not finished after this long ends in ERROR with a fault (the beat's reaper,
# every DEADLINE_REAP_INTERVAL seconds): the deadline the suite holds every server to.
BUILD_TIMEOUT = 90
DEADLINE_REAP_INTERVAL = 10
# How long a task taken by a worker that died (kill -9) waits before the broker hands
# it out again (kombu's visibility timeout for the control plane's queues).
VISIBILITY_TIMEOUT = 15


# The figures of the storm, printed at the end of the run (pytest captures the tests').
REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    for line in REPORT:
        terminalreporter.write_line(line)


def host_xml(directory: Path, host: str, domains: str = "") -> str:
    """A test hypervisor of the suite's size holding `domains` (libvirt domain XML)."""
    path = directory / f"{host}.xml"
    path.write_text(
        f"<node><cpu><mhz>2000</mhz><model>x86_64</model><nodes>1</nodes><sockets>1</sockets>"
        f"<cores>{HOST_CPUS}</cores><threads>1</threads><active>{HOST_CPUS}</active></cpu>"
        f"<memory>{HOST_MEMORY_MB * 1024}</memory>{domains}</node>"
    )
    return f"test://{path}"


class ChaosStack(Workers):
    """The workers of tests/integration on the suite's own database and broker, each
    delivering every task twice, plus beat; any of them killed and started again."""

    def __init__(self, logdir: Path, postgres: PostgresCluster, broker: PrivateRedis) -> None:
        super().__init__(postgres.url, logdir)
        self.postgres = postgres
        self.broker = broker
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        # Held while a fault kills and starts a process, so the supervisor keeps off it.
        self.lock = threading.Lock()
        self.restarted: list[tuple[float, str, int]] = []
        self._supervising = threading.Event()

    def supervise(self) -> None:
        """Start again a worker that exited by itself, as systemd does (the units'
        Restart=on-failure); each restart is noted (when, which, its exit code)."""
        self._supervising.set()

        def loop() -> None:
            while self._supervising.wait(0) and not self._stopping.wait(0.5):
                with self.lock:
                    for name, proc in list(self.procs.items()):
                        code = proc.poll()
                        if code is not None and name in self.commands and name != "api":
                            self.restarted.append((time.monotonic(), name, code))
                            self.start(name, *self.commands[name])

        self._stopping = threading.Event()
        threading.Thread(target=loop, name="supervisor", daemon=True).start()

    def stop(self) -> None:
        if self._supervising.is_set():
            self._stopping.set()
            self._supervising.clear()
        super().stop()

    def _env(self, **extra: str) -> dict[str, str]:
        return super()._env(
            CELERY_BROKER_URL=self.broker.url(0),
            CELERY_RESULT_BACKEND=self.broker.url(1),
            CACHE_URL=self.broker.url(2),
            SCHEDULER_MAX_ATTEMPTS="3",
            # A conductor running behind under the storm handles heartbeats late too.
            SERVICE_DOWN_TIME="30",
            BUILD_TIMEOUT=str(BUILD_TIMEOUT),
            DEADLINE_REAP_INTERVAL=str(DEADLINE_REAP_INTERVAL),
            BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
            QUOTA_INSTANCES="-1",
            QUOTA_CORES="-1",
            QUOTA_RAM="-1",
            **extra,
        )

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.commands[name] = (argv, env)
        if "worker" in argv:
            argv = [*argv, "-I", "tests.chaos.duplicates"]
        super().start(name, argv, env)

    def start_compute(self, host: str, uri: str, **extra: str) -> None:
        super().start_compute(
            host,
            uri,
            HEARTBEAT_INTERVAL=str(HEARTBEAT),
            COMPUTE_DISK_GB=str(HOST_DISK_GB),
            **extra,
        )

    def start_beat(self) -> None:
        self.start(
            "beat",
            ["-A", "cloud.celery", "beat", "-l", "INFO",
             "-s", str(self.logdir / "celerybeat-schedule")],
            self._env(),
        )  # fmt: skip

    def manage(self, *argv: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *argv],
            env=self._env(),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """This process on the suite's database, which the stack migrates and seeds."""
    workdir = Path(tempfile.mkdtemp(prefix="stratus-chaos-"))
    os.chmod(workdir, 0o755)
    postgres = PostgresCluster(workdir)
    broker = PrivateRedis(workdir)
    postgres.create()
    broker.start()
    db = settings.DATABASES["default"]
    saved = dict(db)
    # The same dict every connection of this process is made from.
    db.update(NAME="stratus", USER=postgres.USER, PASSWORD="", HOST="127.0.0.1")
    db.update(PORT=str(postgres.port), CONN_MAX_AGE=0)
    db.setdefault("TEST", {})["NAME"] = "stratus"
    stack = ChaosStack(workdir / "logs", postgres, broker)
    stack.logdir.mkdir()
    try:
        yield stack
    finally:
        stack.stop()
        broker.stop()
        postgres.destroy()
        with django_db_blocker.unblock():
            connection.close()
        db.clear()
        db.update(saved)
        if os.environ.get("KEEP_WORKER_LOGS"):
            print(f"chaos logs in {stack.logdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def chaos_stack(django_db_setup, django_db_blocker):
    """The stack up: migrated, seeded, every host reporting in."""
    stack: ChaosStack = django_db_setup
    stack.manage("migrate", "--noinput", "-v", "0")
    stack.manage("seed", "--admin-password=chaos-admin", "--demo-password=chaos-demo")
    redis.Redis.from_url(stack.broker.url(0)).flushdb()
    # The workers start while the api comes up (start_api waits until it answers).
    for name in CONDUCTORS:
        stack.start_conductor(name)
    stack.start_network()
    for index in (1, 2):
        stack.start_scheduler(index)
    for host in HOSTS:
        stack.start_compute(host, host_xml(stack.logdir, host))
    stack.start_beat()
    stack.start_api()
    with django_db_blocker.unblock():
        from cloud.hosts.selectors import host_names_schedulable

        wait_for(
            lambda: host_names_schedulable().count() == len(HOSTS),
            90,
            interval=0.5,
            message=f"hosts up; dead: {stack.dead()}",
        )
        connection.close()
    stack.supervise()
    yield stack
