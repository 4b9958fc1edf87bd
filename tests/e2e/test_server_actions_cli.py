"""Server actions with the unmodified `openstack` CLI against the real stack: reboot,
stop/start, pause/unpause, suspend/resume, lock/unlock, and the event list that
records them."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _show(stack: RunningStack, name: str) -> dict:
    return json.loads(stack.openstack("server", "show", name, "-f", "json"))


def test_cli_server_actions(stack: RunningStack):
    stack.openstack("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait", "act")
    try:
        stack.openstack("server", "reboot", "--wait", "act")
        assert stack.server_settled("act", "ACTIVE")["OS-EXT-STS:power_state"] == 1
        stack.openstack("server", "reboot", "--hard", "--wait", "act")
        stack.server_settled("act", "ACTIVE")

        for command, status in (
            ("stop", "SHUTOFF"),
            ("start", "ACTIVE"),
            ("pause", "PAUSED"),
            ("unpause", "ACTIVE"),
            ("suspend", "SUSPENDED"),
            ("resume", "ACTIVE"),
        ):
            stack.openstack("server", command, "act")
            stack.server_settled("act", status)

        stack.openstack(
            "--os-compute-api-version", "2.73", "server", "lock", "--reason", "hold", "act"
        )
        locked = json.loads(
            stack.openstack(
                "--os-compute-api-version", "2.73", "server", "show", "act", "-f", "json"
            )
        )
        assert (locked["locked"], locked["locked_reason"]) == (True, "hold")
        stack.openstack("server", "unlock", "act")
        assert _show(stack, "act")["locked"] is False

        events = json.loads(stack.openstack("server", "event", "list", "act", "-f", "json"))
        actions = [e["Action"] for e in events]
        assert actions == [
            "unlock",
            "lock",
            "resume",
            "suspend",
            "unpause",
            "pause",
            "start",
            "stop",
            "reboot",
            "reboot",
            "create",
        ]
        stop = next(e for e in events if e["Action"] == "stop")
        shown = json.loads(
            stack.openstack("server", "event", "show", "act", stop["Request ID"], "-f", "json")
        )
        assert shown["action"] == "stop"
        assert [(e["event"], e["result"]) for e in shown["events"]] == [
            ("compute_stop_instance", "Success")
        ]
    finally:
        stack.openstack("server", "delete", "--wait", "act")
