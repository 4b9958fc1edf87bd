"""The operator's CLI against the real stack: compute services, hypervisors,
availability zones, quotas and limits."""

import json

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def test_services_hypervisors_and_zones(stack: RunningStack):
    services = _json(stack, "compute", "service", "list")
    assert {s["Host"] for s in services} == {"compute-1", "compute-2", "compute-3"}
    assert {(s["Binary"], s["State"], s["Status"]) for s in services} == {
        ("nova-compute", "up", "enabled")
    }
    stack.openstack(
        "compute",
        "service",
        "set",
        "--disable",
        "--disable-reason",
        "new disks",
        "compute-2",
        "nova-compute",
    )
    disabled = _json(stack, "compute", "service", "list", "--long", "--host", "compute-2")
    assert disabled[0]["Status"] == "disabled"
    assert disabled[0]["Disabled Reason"] == "new disks"
    zones = _json(stack, "availability", "zone", "list", "--compute")
    assert [(z["Zone Name"], z["Zone Status"]) for z in zones] == [("nova", "available")]
    stack.openstack("compute", "service", "set", "--enable", "compute-2", "nova-compute")

    hypervisors = _json(stack, "hypervisor", "list", "--long")
    assert {h["Hypervisor Hostname"] for h in hypervisors} == {
        "compute-1",
        "compute-2",
        "compute-3",
    }
    assert {(h["State"], h["Hypervisor Type"]) for h in hypervisors} == {("up", "TEST")}


def test_quotas_and_limits(stack: RunningStack):
    quota = {r["Resource"]: r["Limit"] for r in _json(stack, "quota", "show")}
    assert quota["instances"] == 10 and quota["cores"] == 20 and quota["ram"] == 51200
    stack.openstack("quota", "set", "--instances", "4", "--cores", "6", "demo")
    demo = {r["Resource"]: r["Limit"] for r in _json(stack, "quota", "show", "demo")}
    assert demo["instances"] == 4 and demo["cores"] == 6
    limits = {r["Name"]: r["Value"] for r in _json(stack, "limits", "show", "--absolute")}
    assert limits["max_total_instances"] == 10 and limits["total_instances_used"] >= 0
    stack.openstack("quota", "delete", "demo")
    demo = {r["Resource"]: r["Limit"] for r in _json(stack, "quota", "show", "demo")}
    assert demo["instances"] == 10
