"""End-to-end fixture: the real stack (the runner behind `make start`) on free ports,
with its own var dir, SQLite database and private Redis; and the waits the tests share.

The tests act through the unmodified `openstack` CLI. They wait through openstacksdk in
this process: a CLI run costs about a second of CPU to start, and a wait that polled
with it spent most of an end-to-end lane starting Python."""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml
from openstack.config import loader

from tests.conftest import CI, free_port

ROOT = Path(__file__).resolve().parents[2]


class RunningStack:
    def __init__(
        self, var: Path, port: int, flower_port: int, redis_port: int, console_port: int = 0
    ) -> None:
        self.var = var
        self.port = port
        self.console_port = console_port
        self.flower_port = flower_port
        self.redis_port = redis_port
        self.base = f"http://127.0.0.1:{port}"
        self.clouds_yaml = var / "clouds.yaml"
        self._connections: dict[str, openstack.connection.Connection] = {}
        self.env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), OS_CLOUD="stratus")
        for key in [
            k
            for k in self.env
            if k.startswith("OS_") and k not in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD")
        ]:
            del self.env[key]

    def credentials(self, cloud: str = "stratus") -> dict:
        return yaml.safe_load(self.clouds_yaml.read_text())["clouds"][cloud]["auth"]

    def sdk(self, cloud: str = "stratus") -> openstack.connection.Connection:
        """An openstacksdk connection as `cloud` of the stack's clouds.yaml (one per cloud)."""
        if cloud not in self._connections:
            config = loader.OpenStackConfig(config_files=[str(self.clouds_yaml)])
            self._connections[cloud] = openstack.connection.Connection(config=config.get_one(cloud))
        return self._connections[cloud]

    def server_settled(
        self, name: str, status: str, *, timeout: float = 60, cloud: str = "stratus"
    ) -> dict:
        """Wait until server `name` is `status` with no task running (the host's report is
        written); return its `openstack server show`. ERROR is final unless awaited."""
        compute = self.sdk(cloud).compute

        def settled() -> bool:
            server = compute.find_server(name, ignore_missing=False)
            if server.status == "ERROR" and status != "ERROR":
                raise AssertionError(f"{name} went to ERROR: {server.fault}")
            return server.status == status and not server.task_state

        until(f"{name} settled in {status}", settled, timeout)
        return json.loads(self.openstack("--os-cloud", cloud, "server", "show", name, "-f", "json"))

    def console_log(self, name: str, cloud: str = "stratus") -> str:
        """The server's console log, as `openstack console log show` prints it."""
        compute = self.sdk(cloud).compute
        server = compute.find_server(name, ignore_missing=False)
        return compute.get_server_console_output(server)["output"]

    def console_match(self, name: str, pattern: str, timeout: float = 90) -> re.Match:
        """Wait for `pattern` in the server's console log; the first match."""
        found = until(
            f"{name} printing {pattern!r}",
            lambda: re.search(pattern, self.console_log(name)),
            timeout,
            lambda: f"console:\n{self.console_log(name)}",
        )
        return found

    def volume_settled(
        self, name: str, status: str, *, timeout: float = 60, cloud: str = "stratus"
    ) -> dict:
        """Wait until volume `name` is `status` (an error status is final); return its
        `openstack volume show`."""
        storage = self.sdk(cloud).block_storage

        def settled() -> bool:
            volume = storage.find_volume(name, ignore_missing=False)
            assert not volume.status.startswith("error"), f"volume {name}: {volume.status}"
            return volume.status == status

        until(f"volume {name} {status}", settled, timeout)
        return json.loads(self.openstack("--os-cloud", cloud, "volume", "show", name, "-f", "json"))

    def openstack(self, *args: str, timeout: float = 180) -> str:
        cli = Path(sys.executable).parent / "openstack"
        result = subprocess.run(
            [str(cli), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
        return result.stdout

    def log(self) -> str:
        return (self.var / "log" / "stack.log").read_text(errors="replace")

    def network_agents(self) -> list[str]:
        """The hosts whose network agent the stack runs (none without root or Open vSwitch)."""
        agents = self.var / "run" / "network-agents"
        return agents.read_text().split() if agents.exists() else []


def until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    why: Callable[[], str] = lambda: "",
    every: float = 0.3,
) -> Any:
    """Call `check` until it returns something true, and return that; fail after `timeout`
    seconds with `what` and what `why` says then."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} in {timeout:.0f}s. {why()}"
        time.sleep(every)


# How long a stack may take to start: the lanes start theirs at once, each a dozen worker
# processes importing Django and Celery on two cores (CI has seen 220 s for one), and
# the QEMU stack builds its guest image first.
READY_TIMEOUT = 900


def _running_stack(tmp_path_factory, name: str, *options: str):
    """Start the stack on free ports in a fresh var dir; yield it; stop it. A start that
    fails, or is not ready in READY_TIMEOUT, fails the test with the stack's log."""
    var = tmp_path_factory.mktemp(name) / "var"  # not there yet, as on a fresh checkout
    running = RunningStack(var, free_port(), free_port(), free_port(), free_port())
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    argv = [sys.executable, str(ROOT / "deploy" / "stack.py")]
    opts = ["--var-dir", str(var)]
    start = subprocess.run(
        [
            *argv,
            "start",
            *opts,
            "--port",
            str(running.port),
            "--flower-port",
            str(running.flower_port),
            "--redis",
            "private",
            "--redis-port",
            str(running.redis_port),
            "--console-port",
            str(running.console_port),
            "--heartbeat",
            "2",
            "--ready-timeout",
            str(READY_TIMEOUT),
            *options,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    try:
        assert start.returncode == 0, start.stdout + start.stderr + running.log()
        yield running
    finally:
        subprocess.run([*argv, "stop", *opts], env=env, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    yield from _running_stack(tmp_path_factory, "stack")


@pytest.fixture(scope="session")
def qemu_stack(tmp_path_factory):
    """The stack with one compute host running real QEMU guests (`--hypervisor qemu`),
    and its network agent on this machine's Open vSwitch, which wires the guests' ports;
    skipped where this machine cannot be a QEMU host (a failure under CI=true). Under
    CI=true the agent must run too (`--network-agents on`: the stack fails to start
    without root or Open vSwitch); elsewhere the network tests skip without it."""
    check = subprocess.run(
        [str(ROOT / "deploy" / "qemu-host.sh"), "--check"], capture_output=True, timeout=30
    )
    if check.returncode != 0:
        pytest.skip(
            "qemu:///system does not answer on this machine: run deploy/qemu-host.sh "
            "(make test does when CI=true) to run real QEMU guests"
        )
    agents = "on" if CI else "auto"
    yield from _running_stack(
        tmp_path_factory,
        "qemu-stack",
        "--hypervisor",
        "qemu",
        "--network-agents",
        agents,
    )
