"""Flavors and server metadata with the real `openstack` CLI against the real stack: an
admin creates a private flavor with ephemeral and swap disks, properties and a project
it is shared with, shows, sets, unsets and lists it, the project boots a server with it,
and server properties are set and unset."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def _demo(stack: RunningStack, *args: str):
    return _json(stack, "--os-cloud", "stratus-demo", *args)


def _demo_run(stack: RunningStack, *args: str) -> str:
    return stack.openstack("--os-cloud", "stratus-demo", *args)


def _names(rows: list[dict]) -> set[str]:
    return {row["Name"] for row in rows}


def test_flavor_journey(stack: RunningStack):
    created = _json(
        stack,
        "flavor",
        "create",
        "--ram",
        "256",
        "--disk",
        "1",
        "--vcpus",
        "1",
        "--ephemeral",
        "1",
        "--swap",
        "128",
        "--property",
        "hw:cpu_policy=shared",
        "--property",
        "e2e:marker=yes",
        "--private",
        "--project",
        "demo",
        "--description",
        "made by the e2e test",
        "e2e.private",
    )
    assert (created["ram"], created["disk"], created["vcpus"]) == (256, 1, 1)
    assert (created["OS-FLV-EXT-DATA:ephemeral"], created["swap"]) == (1, 128)
    assert created["os-flavor-access:is_public"] is False
    assert created["properties"] == {"hw:cpu_policy": "shared", "e2e:marker": "yes"}
    flavor_id = created["id"]
    demo_project = _json(stack, "project", "show", "demo")["id"]
    admin_project = _json(stack, "project", "show", "admin")["id"]

    shown = _json(stack, "flavor", "show", "e2e.private")
    assert shown["id"] == flavor_id and shown["description"] == "made by the e2e test"
    assert shown["properties"] == {"hw:cpu_policy": "shared", "e2e:marker": "yes"}
    assert shown["access_project_ids"] == [demo_project]

    stack.openstack(
        "flavor",
        "set",
        "--property",
        "hw:numa_nodes=1",
        "--project",
        "admin",
        "--description",
        "changed",
        "e2e.private",
    )
    stack.openstack("flavor", "unset", "--property", "e2e:marker", "--project", "demo", flavor_id)
    shown = _json(stack, "flavor", "show", flavor_id)
    assert shown["properties"] == {"hw:cpu_policy": "shared", "hw:numa_nodes": "1"}
    assert shown["access_project_ids"] == [admin_project]
    assert shown["description"] == "changed"

    # Private: listed with --all and --private; by default only for projects it is shared
    # with (the admin's, now), and invisible to the demo project since it lost access.
    assert "e2e.private" in _names(_json(stack, "flavor", "list", "--all"))
    assert _names(_json(stack, "flavor", "list", "--private")) == {"e2e.private"}
    assert "e2e.private" in _names(_json(stack, "flavor", "list"))
    assert "e2e.private" not in _names(_demo(stack, "flavor", "list"))
    assert "m1.tiny" in _names(_demo(stack, "flavor", "list"))

    # Shared with demo again, the demo project boots a server with it.
    stack.openstack("flavor", "set", "--project", "demo", flavor_id)
    assert "e2e.private" in _names(_demo(stack, "flavor", "list"))
    server = _demo(
        stack,
        "server",
        "create",
        "--flavor",
        "e2e.private",
        "--image",
        "tiny",
        "--nic",
        "none",
        "--wait",
        "on-private",
    )
    assert server["status"] == "ACTIVE"

    # Server properties (metadata), set and unset by the server's project.
    _demo_run(
        stack, "server", "set", "--property", "team=blue", "--property", "tier=web", "on-private"
    )
    assert _demo(stack, "server", "show", "on-private")["properties"] == {
        "team": "blue",
        "tier": "web",
    }
    _demo_run(stack, "server", "unset", "--property", "team", "on-private")
    assert _demo(stack, "server", "show", "on-private")["properties"] == {"tier": "web"}

    # Deleting the flavor leaves the server with its copy of it.
    stack.openstack("flavor", "delete", "e2e.private")
    assert "e2e.private" not in _names(_json(stack, "flavor", "list", "--all"))
    kept = _demo(stack, "server", "show", "on-private")
    assert kept["status"] == "ACTIVE"
    assert kept["flavor"]["original_name"] == "e2e.private"
    assert kept["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared", "hw:numa_nodes": "1"}
    _demo_run(stack, "server", "delete", "--wait", "on-private")
