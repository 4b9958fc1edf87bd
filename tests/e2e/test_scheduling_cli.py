"""The operator's and the user's scheduling commands with the real CLI against the real
stack: a host aggregate that is an availability zone, a server group, and a server
booted into both."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def test_zone_aggregate_and_server_group(stack: RunningStack):
    created = _json(stack, "aggregate", "create", "--zone", "az1", "a1")
    assert (created["name"], created["availability_zone"]) == ("a1", "az1")
    stack.openstack("aggregate", "add", "host", "a1", "compute-1")
    stack.openstack("aggregate", "set", "--property", "ssd=true", "a1")
    shown = _json(stack, "aggregate", "show", "a1")
    assert shown["hosts"] == ["compute-1"]
    assert shown["properties"] == {"ssd": "true"}  # OSC shows the zone on its own
    assert [a["Name"] for a in _json(stack, "aggregate", "list")] == ["a1"]
    zones = _json(stack, "availability", "zone", "list", "--compute")
    assert sorted((z["Zone Name"], z["Zone Status"]) for z in zones) == [
        ("az1", "available"),
        ("nova", "available"),
    ]
    hypervisor = _json(stack, "hypervisor", "show", "compute-1")
    assert hypervisor["aggregates"] == ["a1"]

    group = _json(stack, "server", "group", "create", "--policy", "anti-affinity", "g1")
    assert (group["name"], group["policy"]) == ("g1", "anti-affinity")
    assert [g["Name"] for g in _json(stack, "server", "group", "list")] == ["g1"]
    server = _json(
        stack,
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "tiny",
        "--hint",
        f"group={group['id']}",
        "--availability-zone",
        "az1",
        "--wait",
        "grouped",
    )
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-SRV-ATTR:host"] == "compute-1"
    assert server["OS-EXT-AZ:availability_zone"] == "az1"
    members = _json(stack, "server", "group", "show", "g1")["members"]
    assert members == [server["id"]]

    # The group's only host in az1 is taken: a second member cannot be placed.
    second = _json(
        stack,
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "tiny",
        "--hint",
        f"group={group['id']}",
        "--availability-zone",
        "az1",
        "second",
    )
    failed = stack.server_settled(second["id"], "ERROR")
    assert "were not in zone az1" in failed["fault"]["message"]
    assert f"anti-affinity group {group['id']}" in failed["fault"]["message"]

    stack.openstack("server", "delete", "--wait", "grouped", "second")
    stack.openstack("server", "group", "delete", "g1")
    stack.openstack("aggregate", "remove", "host", "a1", "compute-1")
    stack.openstack("aggregate", "delete", "a1")
    assert _json(stack, "aggregate", "list") == []
    zones = _json(stack, "availability", "zone", "list", "--compute")
    assert [z["Zone Name"] for z in zones] == ["nova"]
