"""The compute side carries no ORM: importing its tasks loads neither Django settings nor the DB."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import cloud.workers.tasks as tasks
print(json.dumps({
    "modules": sorted(sys.modules),
    "tasks": sorted(n for n in tasks.app.tasks if n.startswith("compute.")),
    "queue": tasks.app.conf.task_default_queue,
}))
"""

FORBIDDEN_EXACT = {"django.db", "django.conf", "cloud.settings", "cloud.celery", "rest_framework"}
FORBIDDEN_PACKAGES = (
    "django.db.",
    "django.conf.",
    "rest_framework.",
    "cloud.identity",
    "cloud.instances",
    "cloud.placement",
    "cloud.scheduler",
    "cloud.conductor",
    "cloud.hosts",
    "cloud.images",
    "cloud.api",
)


def _import_compute_tasks() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"}
    }
    env.update(COMPUTE_HOST="unit-test", LIBVIRT_URI="test:///default")
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_compute_tasks_import_without_django_or_the_database():
    probe = _import_compute_tasks()
    modules = set(probe["modules"])

    assert "cloud.workers.tasks" in modules
    assert "libvirt" in modules
    assert FORBIDDEN_EXACT.isdisjoint(modules), sorted(FORBIDDEN_EXACT & modules)
    leaked = sorted(m for m in modules if m.startswith(FORBIDDEN_PACKAGES))
    assert leaked == []

    # The compute worker's message format: its task names and its queue.
    assert probe["tasks"] == [
        "compute.attach_interface",
        "compute.attach_volume",
        "compute.build_and_run_instance",
        "compute.confirm_resize",
        "compute.detach_interface",
        "compute.detach_volume",
        "compute.finish_resize",
        "compute.finish_revert_resize",
        "compute.get_console_output",
        "compute.get_diagnostics",
        "compute.list_instances",
        "compute.pause_instance",
        "compute.power_off_instance",
        "compute.power_on_instance",
        "compute.reboot_instance",
        "compute.rebuild_instance",
        "compute.reconcile",
        "compute.resize_instance",
        "compute.resume_instance",
        "compute.revert_resize",
        "compute.snapshot_instance",
        "compute.suspend_instance",
        "compute.terminate_instance",
        "compute.unpause_instance",
    ]
    assert probe["queue"] == "compute.unit-test"
