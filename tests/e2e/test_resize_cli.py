"""Resize with the unmodified `openstack` CLI against the real stack (three simulated
hosts): resize --wait, confirm, resize again, revert, and the migrations and events
that record it."""

import json
import time

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _show(stack: RunningStack, name: str) -> dict:
    return json.loads(stack.openstack("server", "show", name, "-f", "json"))


def _wait(stack: RunningStack, name: str, status: str, timeout: float = 60) -> dict:
    """The status with no task running: the hosts' reports have been written."""
    deadline = time.monotonic() + timeout
    while True:
        server = _show(stack, name)
        if server["status"] == status and not server["OS-EXT-STS:task_state"]:
            return server
        assert time.monotonic() < deadline, f"{name} never settled in {status}: {server}"
        time.sleep(0.5)


def test_cli_resize_confirm_and_revert(stack: RunningStack):
    stack.openstack("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait", "rsz")
    try:
        server = _show(stack, "rsz")
        source = server["OS-EXT-SRV-ATTR:host"]

        stack.openstack("server", "resize", "--flavor", "m1.small", "--wait", "rsz")
        resized = _wait(stack, "rsz", "VERIFY_RESIZE")
        dest = resized["OS-EXT-SRV-ATTR:host"]
        assert dest != source
        assert resized["flavor"]["original_name"] == "m1.small"
        stack.openstack("server", "resize", "confirm", "rsz")
        confirmed = _wait(stack, "rsz", "ACTIVE")
        assert (confirmed["OS-EXT-SRV-ATTR:host"], confirmed["flavor"]["vcpus"]) == (dest, 1)

        stack.openstack("server", "resize", "--flavor", "m1.medium", "--wait", "rsz")
        assert _wait(stack, "rsz", "VERIFY_RESIZE")["flavor"]["original_name"] == "m1.medium"
        stack.openstack("server", "resize", "revert", "rsz")
        reverted = _wait(stack, "rsz", "ACTIVE")
        assert reverted["OS-EXT-SRV-ATTR:host"] == dest
        assert reverted["flavor"]["original_name"] == "m1.small"

        migrations = json.loads(stack.openstack("server", "migration", "list", "-f", "json"))
        mine = [m for m in migrations if m["Server UUID"] == server["id"]]
        assert sorted((m["Status"], m["Type"], m["Source Compute"]) for m in mine) == [
            ("confirmed", "resize", source),
            ("reverted", "resize", dest),
        ]
        events = json.loads(stack.openstack("server", "event", "list", "rsz", "-f", "json"))
        assert [e["Action"] for e in events] == [
            "revertResize",
            "resize",
            "confirmResize",
            "resize",
            "create",
        ]
    finally:
        stack.openstack("server", "delete", "--wait", "rsz")
