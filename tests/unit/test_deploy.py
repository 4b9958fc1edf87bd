"""deploy/ has the production shape of every process `make run` starts: a systemd unit
running the same program (the same queue, module or role; the api under gunicorn), an
example of every environment file a unit reads, and a line on each unit in
deploy/README.md. A process added to deploy/stack.py without them fails here."""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _stack_module():
    spec = importlib.util.spec_from_file_location("stack", DEPLOY / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stack_processes(tmp_path: Path) -> list[tuple[str, str]]:
    """(name, command) of every process the development stack runs (one compute host)."""
    stack_module = _stack_module()
    args = stack_module.arguments().parse_args(
        ["run", "--var-dir", str(tmp_path), "--computes", "1", "--network-agents", "off"]
    )
    stack = stack_module.Stack(args)
    return [(name, command) for name, command, _env in stack.processes({}, None)]


def _program(command: str, host: str) -> str:
    """What a command runs, as a unit would spell it: `-Q <queue>` for a Celery worker
    (a host's name as the unit's instance, %i), `beat`, `-m <module>`, or `api`."""
    argv = shlex.split(command.replace(host, "%i"))
    if "runserver" in argv or any("gunicorn" in a for a in argv):
        return "api"
    if "worker" in argv:
        return f"-Q {argv[argv.index('-Q') + 1]}"
    if "beat" in argv:
        return "beat"
    if "-m" in argv:
        return f"-m {argv[argv.index('-m') + 1]}"
    return argv[0]


def _exec_start(unit: Path) -> str:
    (line,) = re.findall(r"^ExecStart=(.*)$", unit.read_text(), re.MULTILINE)
    return line


def test_every_process_of_the_stack_has_a_unit(tmp_path):
    units = {_program(_exec_start(unit), "%i"): unit.name for unit in UNITS}
    processes = _stack_processes(tmp_path)
    host = next(name for name, _ in processes if name.startswith("compute-"))
    missing = [
        name
        for name, command in processes
        # A templated unit's instance: the compute host, or the volume worker's backend.
        if name != "redis"
        and _program(command, name.removeprefix("volume-") if name.startswith("volume-") else host)
        not in units
    ]
    assert not missing, f"no unit in deploy/systemd runs {missing} (units: {units})"


def test_no_worker_gossips_or_mingles(tmp_path):
    """With a worker per host, a worker that gossips reads every other worker's events
    (two a second each): the volume worker spent 45 ms of CPU a second on 200 of them."""
    commands = [_exec_start(unit) for unit in UNITS]
    commands += [command for _, command in _stack_processes(tmp_path)]
    stack_module = _stack_module()
    stack = stack_module.Stack(
        stack_module.arguments().parse_args(["run", "--var-dir", str(tmp_path)])
    )
    commands.append(stack.agent_process({}, "compute-1")[1])  # a host's agent, no fabric
    workers = [c for c in commands if " worker " in f" {c} " and "celery" in c]
    assert len(workers) >= 6
    for command in workers:
        assert "--without-gossip" in command and "--without-mingle" in command, command


def test_a_hosts_workers_send_celery_heartbeats_every_10_s(tmp_path):
    """A hundred hosts' compute, agent and volume workers, idle, spent a quarter of their
    CPU on Celery heartbeat events every 2 s; the control plane's few workers keep 2 s."""
    commands = [_exec_start(unit) for unit in UNITS]
    commands += [command for _, command in _stack_processes(tmp_path)]
    stack_module = _stack_module()
    stack = stack_module.Stack(
        stack_module.arguments().parse_args(["run", "--var-dir", str(tmp_path)])
    )
    commands.append(stack.agent_process({}, "compute-1")[1])
    apps = ("cloud.workers.app", "cloud.netagent.app", "cloud.volumeworker.app")
    hosts = [c for c in commands if " worker " in f" {c} " and any(app in c for app in apps)]
    assert {app for app in apps if any(app in c for c in hosts)} == set(apps)
    for command in hosts:
        assert "--heartbeat-interval 10" in command, command


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_has_its_environment_example_and_a_line_in_the_readme(unit):
    for path in re.findall(r"^EnvironmentFile=-?(\S+)$", unit.read_text(), re.MULTILINE):
        example = DEPLOY / f"{Path(path).name}.example"
        assert example.is_file(), f"{unit.name} reads {path}: no {example.relative_to(ROOT)}"
    name = unit.name.removesuffix(".service").removesuffix("@")
    assert name in (DEPLOY / "README.md").read_text(), f"deploy/README.md says nothing of {name}"
