"""All sending goes through cloud/rpc.py: no other module of cloud/ publishes a task,
builds a Celery signature or chain, or calls .delay / .apply_async, so every message
between processes is a payload built in its peer's version in one place."""

import ast
from pathlib import Path

CLOUD = Path(__file__).resolve().parents[2] / "cloud"

# The modules that send: the control plane's, and the compute worker's, the network
# agent's and the volume worker's own (they have no Django, so they cannot import rpc.py;
# each builds its reports in the version it speaks).
SENDERS = {"rpc.py", "workers/app.py", "netagent/app.py", "volumeworker/app.py"}
SENDING_METHODS = {"send_task", "signature", "s", "si", "delay", "apply_async", "delay_on_commit"}
CANVAS = {"chain", "chord", "group", "signature", "Signature"}


def sends(source: str) -> list[str]:
    """What in `source` sends a task (each with its line), or builds one to send."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("celery"):
            found += [f"{node.lineno}: imports {a.name}" for a in node.names if a.name in CANVAS]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SENDING_METHODS
        ):
            found.append(f"{node.lineno}: .{node.func.attr}()")
    return found


def test_only_rpc_sends_tasks():
    offenders = {
        str(path.relative_to(CLOUD)): found
        for path in sorted(CLOUD.rglob("*.py"))
        if str(path.relative_to(CLOUD)) not in SENDERS and (found := sends(path.read_text()))
    }
    assert not offenders, (
        f"send through cloud/rpc.py (add a function there if none fits): {offenders}"
    )


def test_the_check_sees_each_way_of_sending():
    assert sends("from celery import chain\n") == ["1: imports chain"]
    assert sends("app.send_task('conductor.x', args=[])") == ["1: .send_task()"]
    assert sends("task.delay(1)\nsig.apply_async()") == ["1: .delay()", "2: .apply_async()"]
    assert sends("app.signature('scheduler.select_destinations')") == ["1: .signature()"]
    assert sends("x = {'task': 'conductor.reap_stuck_builds'}") == []
