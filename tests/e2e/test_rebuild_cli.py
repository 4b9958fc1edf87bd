"""Rebuild and createImage with the unmodified `openstack` CLI on the test hypervisor:
`server rebuild --wait` comes back ACTIVE with the event recorded, and `server image
create --wait` uploads the guest's disk (real files on this hypervisor too) as an
active image."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _show(stack: RunningStack, name: str) -> dict:
    return json.loads(stack.openstack("server", "show", name, "-f", "json"))


def test_cli_rebuild_and_a_snapshot(stack: RunningStack):
    stack.openstack("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait", "rb")
    try:
        before = _show(stack, "rb")
        # --wait prints its progress before the server: only the exit code counts here.
        stack.openstack("server", "rebuild", "--image", "tiny", "--name", "rb", "--wait", "rb")
        after = _show(stack, "rb")
        assert after["id"] == before["id"]
        assert (after["status"], after["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
        events = json.loads(stack.openstack("server", "event", "list", "rb", "-f", "json"))
        assert [e["Action"] for e in events] == ["rebuild", "create"]

        stack.openstack("server", "image", "create", "--name", "snap", "--wait", "rb")
        images = json.loads(stack.openstack("image", "list", "--name", "snap", "-f", "json"))
        assert [i["Status"] for i in images] == ["active"]
        stack.openstack("image", "delete", "snap")
    finally:
        stack.openstack("server", "delete", "--wait", "rb")


def test_cli_evacuate_from_a_host_forced_down(stack: RunningStack):
    stack.openstack("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait", "ev")
    source = _show(stack, "ev")["OS-EXT-SRV-ATTR:host"]
    try:
        stack.openstack("compute", "service", "set", "--down", source, "nova-compute")
        try:
            # Not --wait: OSC 10.5 waits for "ACTIVE" among lower-cased statuses, forever.
            stack.openstack("server", "evacuate", "ev")
            after = stack.server_settled("ev", "ACTIVE")
        finally:
            stack.openstack("compute", "service", "set", "--up", source, "nova-compute")
        assert after["OS-EXT-SRV-ATTR:host"] not in (None, source)
        assert (after["status"], after["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
        events = json.loads(stack.openstack("server", "event", "list", "ev", "-f", "json"))
        assert [e["Action"] for e in events] == ["evacuate", "create"]
    finally:
        stack.openstack("server", "delete", "--wait", "ev")
