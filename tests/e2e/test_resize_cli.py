"""Resize with the unmodified `openstack` CLI against the real stack (three simulated
hosts): resize --wait, confirm, resize again, revert, and the migrations and events
that record it."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _show(stack: RunningStack, name: str) -> dict:
    return json.loads(stack.openstack("server", "show", name, "-f", "json"))


def test_cli_resize_confirm_and_revert(stack: RunningStack):
    stack.openstack("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait", "rsz")
    try:
        server = _show(stack, "rsz")
        source = server["OS-EXT-SRV-ATTR:host"]

        stack.openstack("server", "resize", "--flavor", "m1.small", "--wait", "rsz")
        resized = stack.server_settled("rsz", "VERIFY_RESIZE")
        dest = resized["OS-EXT-SRV-ATTR:host"]
        assert dest != source
        assert resized["flavor"]["original_name"] == "m1.small"
        stack.openstack("server", "resize", "confirm", "rsz")
        confirmed = stack.server_settled("rsz", "ACTIVE")
        assert (confirmed["OS-EXT-SRV-ATTR:host"], confirmed["flavor"]["vcpus"]) == (dest, 1)

        stack.openstack("server", "resize", "--flavor", "m1.medium", "--wait", "rsz")
        assert (
            stack.server_settled("rsz", "VERIFY_RESIZE")["flavor"]["original_name"] == "m1.medium"
        )
        stack.openstack("server", "resize", "revert", "rsz")
        reverted = stack.server_settled("rsz", "ACTIVE")
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
