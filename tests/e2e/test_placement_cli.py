"""The placement API through the osc-placement plugin of the `openstack` CLI, against the
real stack: the compute hosts' providers, their inventories and usages, allocation
candidates, and an operator's own provider, resource class and trait.

osc-placement negotiates its microversion by default (it asks for 1.29, the highest it
supports without gaps, and the service accepts it), so no --os-placement-api-version
is needed; 1.29 covers every command used here (allocation candidates need 1.10,
resource classes 1.2, traits 1.6)."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

HOSTS = {"compute-1", "compute-2", "compute-3"}


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def test_compute_hosts_are_providers_with_inventories_and_candidates(stack: RunningStack):
    providers = {p["name"]: p for p in _json(stack, "resource", "provider", "list")}
    assert set(providers) >= HOSTS
    host = providers["compute-1"]
    assert host["root_provider_uuid"] == host["uuid"] and host["parent_provider_uuid"] is None

    inventory = {
        row["resource_class"]: row
        for row in _json(stack, "resource", "provider", "inventory", "list", host["uuid"])
    }
    assert {"VCPU", "MEMORY_MB", "DISK_GB"} <= set(inventory)
    assert inventory["VCPU"]["total"] >= 1

    usage = {
        row["resource_class"]: row["usage"]
        for row in _json(stack, "resource", "provider", "usage", "show", host["uuid"])
    }
    assert set(usage) == set(inventory)

    candidates = _json(
        stack,
        "allocation",
        "candidate",
        "list",
        "--resource",
        "VCPU=1",
        "--resource",
        "MEMORY_MB=512",
    )
    by_provider = {row["resource provider"]: row for row in candidates}
    assert {providers[name]["uuid"] for name in HOSTS} <= set(by_provider)
    row = by_provider[host["uuid"]]
    assert sorted(row["allocation"].split(",")) == ["MEMORY_MB=512", "VCPU=1"]
    assert "VCPU=" in row["inventory used/capacity"]
    limited = _json(
        stack, "allocation", "candidate", "list", "--resource", "VCPU=1", "--limit", "1"
    )
    assert len(limited) == 1


def test_operator_provider_resource_class_and_trait(stack: RunningStack):
    stack.openstack("resource", "class", "create", "CUSTOM_X")
    classes = {row["name"] for row in _json(stack, "resource", "class", "list")}
    assert {"VCPU", "CUSTOM_X"} <= classes

    stack.openstack("trait", "create", "CUSTOM_T")
    traits = {row["name"] for row in _json(stack, "trait", "list", "--name", "startswith:CUSTOM_")}
    assert "CUSTOM_T" in traits

    created = _json(stack, "resource", "provider", "create", "extra")
    assert created["name"] == "extra" and created["generation"] == 0
    rp = created["uuid"]
    stack.openstack("resource", "provider", "inventory", "set", rp, "--resource", "CUSTOM_X=4")
    shown = _json(stack, "resource", "provider", "inventory", "show", rp, "CUSTOM_X")
    assert shown["total"] == 4
    stack.openstack("resource", "provider", "trait", "set", rp, "--trait", "CUSTOM_T")
    assert [t["name"] for t in _json(stack, "resource", "provider", "trait", "list", rp)] == [
        "CUSTOM_T"
    ]

    renamed = _json(stack, "resource", "provider", "set", rp, "--name", "extra-renamed")
    assert renamed["name"] == "extra-renamed"
    names = {p["name"] for p in _json(stack, "resource", "provider", "list")}
    assert "extra-renamed" in names and "extra" not in names

    stack.openstack("resource", "provider", "delete", rp)
    assert rp not in {p["uuid"] for p in _json(stack, "resource", "provider", "list")}
    stack.openstack("trait", "delete", "CUSTOM_T")
    stack.openstack("resource", "class", "delete", "CUSTOM_X")
    assert "CUSTOM_X" not in {row["name"] for row in _json(stack, "resource", "class", "list")}
