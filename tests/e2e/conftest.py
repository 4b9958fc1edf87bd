"""End-to-end fixture: the real stack (the runner behind `make start`) on free ports,
with its own var dir, SQLite database and private Redis."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


class RunningStack:
    def __init__(self, var: Path, port: int, flower_port: int, redis_port: int) -> None:
        self.var = var
        self.port = port
        self.flower_port = flower_port
        self.redis_port = redis_port
        self.base = f"http://127.0.0.1:{port}"
        self.clouds_yaml = var / "clouds.yaml"
        self.env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), OS_CLOUD="stratus")
        for key in [
            k
            for k in self.env
            if k.startswith("OS_") and k not in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD")
        ]:
            del self.env[key]

    def credentials(self, cloud: str = "stratus") -> dict:
        return yaml.safe_load(self.clouds_yaml.read_text())["clouds"][cloud]["auth"]

    def openstack(self, *args: str, timeout: float = 180) -> str:
        cli = Path(sys.executable).parent / "openstack"
        result = subprocess.run(
            [str(cli), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
        return result.stdout

    def log(self) -> str:
        return (self.var / "log" / "stack.log").read_text(errors="replace")


def _running_stack(tmp_path_factory, name: str, *options: str, timeout: float = 180):
    """Start the stack on free ports in a fresh var dir; yield it; stop it."""
    var = tmp_path_factory.mktemp(name) / "var"  # not there yet, as on a fresh checkout
    running = RunningStack(var, free_port(), free_port(), free_port())
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
            "--heartbeat",
            "2",
            *options,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
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
    """The stack with one compute host running real QEMU guests (`--hypervisor qemu`);
    skipped where this machine cannot be a QEMU host (a failure under CI=true)."""
    check = subprocess.run(
        [str(ROOT / "deploy" / "qemu-host.sh"), "--check"], capture_output=True, timeout=30
    )
    if check.returncode != 0:
        pytest.skip(
            "qemu:///system does not answer on this machine: run deploy/qemu-host.sh "
            "(make test does when CI=true) to run real QEMU guests"
        )
    yield from _running_stack(tmp_path_factory, "qemu-stack", "--hypervisor", "qemu", timeout=360)
