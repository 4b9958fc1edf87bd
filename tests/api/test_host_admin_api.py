"""os-services, os-hypervisors and os-availability-zone: the admin's view of the hosts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_names_schedulable
from cloud.instances.models import Instance
from cloud.placement.claims import InventorySpec, allocations_claim_new_many, provider_sync

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def version(text: str) -> dict:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {text}"}


@pytest.fixture
def hosts(seeded):
    now = timezone.now()
    up = ComputeNode.objects.create(
        host="hv-up",
        hypervisor_hostname="hv-up.example",
        hypervisor_type="QEMU",
        hypervisor_version=9000000,
        vcpus=8,
        memory_mb=16384,
        local_gb=200,
        cpu_info={"arch": "x86_64"},
        last_seen_at=now,
    )
    ComputeNode.objects.create(
        host="hv-down",
        vcpus=8,
        memory_mb=16384,
        local_gb=200,
        last_seen_at=now - timedelta(hours=1),
    )
    ComputeNode.objects.create(
        host="hv-east",
        availability_zone="east",
        vcpus=4,
        memory_mb=8192,
        local_gb=100,
        last_seen_at=now,
        disabled=True,
        disabled_reason="maintenance",
    )
    provider = provider_sync(
        name="hv-up",
        inventories={
            "VCPU": InventorySpec(total=8),
            "MEMORY_MB": InventorySpec(total=16384),
            "DISK_GB": InventorySpec(total=200),
        },
    )
    instance = Instance.objects.create(
        display_name="vm",
        project_id="p",
        user_id="u",
        flavor={},
        host="hv-up",
        task_state="rebooting",
    )
    allocations_claim_new_many(
        [(str(instance.uuid), "p", provider.id, {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 20})]
    )
    return up


def test_services_list_states_and_filters(admin_api, hosts):
    services = admin_api.get(f"{V}/os-services", **LATEST).json()["services"]
    by_host = {s["host"]: s for s in services}
    assert by_host["hv-up"]["state"] == "up" and by_host["hv-up"]["status"] == "enabled"
    assert (
        by_host["hv-up"]["id"] == str(hosts.uuid) and by_host["hv-up"]["binary"] == "nova-compute"
    )
    assert by_host["hv-down"]["state"] == "down"
    assert by_host["hv-east"]["status"] == "disabled"
    assert by_host["hv-east"]["disabled_reason"] == "maintenance"
    assert by_host["hv-east"]["zone"] == "east" and by_host["hv-up"]["forced_down"] is False
    old = admin_api.get(f"{V}/os-services").json()["services"]
    assert all(isinstance(s["id"], int) and "forced_down" not in s for s in old)
    one = admin_api.get(f"{V}/os-services?host=hv-up&binary=nova-compute").json()["services"]
    assert [s["host"] for s in one] == ["hv-up"]
    assert admin_api.get(f"{V}/os-services?binary=nova-conductor").json()["services"] == []


def test_disable_with_reason_enable_and_force_down(admin_api, hosts):
    url = f"{V}/os-services/{hosts.uuid}"
    reply = admin_api.put(
        url, {"status": "disabled", "disabled_reason": "bad disk"}, format="json", **LATEST
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["service"]["status"] == "disabled"
    assert reply.json()["service"]["disabled_reason"] == "bad disk"
    assert not host_names_schedulable().filter(host="hv-up").exists()
    admin_api.put(url, {"status": "enabled"}, format="json", **LATEST)
    assert host_names_schedulable().filter(host="hv-up").exists()
    assert ComputeNode.objects.get(host="hv-up").disabled_reason == ""
    down = admin_api.put(url, {"forced_down": True}, format="json", **LATEST)
    assert down.json()["service"]["state"] == "down"
    assert not host_names_schedulable().filter(host="hv-up").exists()


def test_legacy_action_urls(admin_api, hosts):
    body = {"host": "hv-up", "binary": "nova-compute", "disabled_reason": "patching"}
    reply = admin_api.put(f"{V}/os-services/disable-log-reason", body, format="json")
    assert reply.json() == {
        "service": {
            "host": "hv-up",
            "binary": "nova-compute",
            "status": "disabled",
            "disabled_reason": "patching",
        }
    }
    reply = admin_api.put(f"{V}/os-services/enable", body, format="json")
    assert reply.json()["service"]["status"] == "enabled"
    forced = admin_api.put(
        f"{V}/os-services/force-down",
        {**body, "forced_down": True},
        format="json",
        **version("2.11"),
    )
    assert forced.json()["service"]["forced_down"] is True
    unknown = admin_api.put(
        f"{V}/os-services/disable", {"host": "nope", "binary": "nova-compute"}, format="json"
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "sleeping"},
        {"status": "enabled", "disabled_reason": "x"},
        {"forced_down": "maybe"},
        {"colour": "red"},
        ["status"],
    ],
)
def test_bad_service_updates_are_400_and_change_nothing(admin_api, hosts, body):
    reply = admin_api.put(f"{V}/os-services/{hosts.uuid}", body, format="json", **LATEST)
    assert reply.status_code == 400, reply.content
    node = ComputeNode.objects.get(host="hv-up")
    assert not node.disabled and not node.forced_down


def test_unknown_service_ids(admin_api, hosts):
    assert (
        admin_api.put(
            f"{V}/os-services/nope", {"status": "enabled"}, format="json", **LATEST
        ).status_code
        == 400
    )
    missing = "00000000-0000-0000-0000-000000000000"
    assert (
        admin_api.put(
            f"{V}/os-services/{missing}", {"status": "enabled"}, format="json", **LATEST
        ).status_code
        == 404
    )


def test_hypervisor_list_detail_and_show_with_usage(admin_api, hosts):
    listed = admin_api.get(f"{V}/os-hypervisors", **LATEST).json()["hypervisors"]
    assert {h["hypervisor_hostname"] for h in listed} == {"hv-up.example", "hv-down", "hv-east"}
    assert set(listed[0]) == {"id", "hypervisor_hostname", "state", "status"}
    detail = admin_api.get(f"{V}/os-hypervisors/detail", **version("2.87")).json()["hypervisors"]
    up = next(h for h in detail if h["service"]["host"] == "hv-up")
    assert up["vcpus_used"] == 2 and up["memory_mb_used"] == 4096 and up["local_gb_used"] == 20
    assert up["free_ram_mb"] == 12288 and up["running_vms"] == 1 and up["current_workload"] == 1
    assert up["hypervisor_type"] == "QEMU" and up["cpu_info"] == {"arch": "x86_64"}
    shown = admin_api.get(f"{V}/os-hypervisors/{hosts.uuid}?with_servers=true", **version("2.87"))
    body = shown.json()["hypervisor"]
    assert body["vcpus"] == 8 and [s["name"] for s in body["servers"]][0].startswith("instance-")
    latest = admin_api.get(f"{V}/os-hypervisors/{hosts.uuid}", **LATEST).json()["hypervisor"]
    assert "vcpus_used" not in latest and latest["state"] == "up"
    old = admin_api.get(f"{V}/os-hypervisors/{hosts.id}").json()["hypervisor"]
    assert isinstance(old["cpu_info"], str) and old["id"] == hosts.id
    assert admin_api.get(f"{V}/os-hypervisors/{hosts.id}", **LATEST).status_code == 400
    assert admin_api.get(f"{V}/os-hypervisors/99999").status_code == 404


def test_hypervisor_pattern_and_paging(admin_api, hosts):
    found = admin_api.get(f"{V}/os-hypervisors?hypervisor_hostname_pattern=example", **LATEST)
    assert [h["hypervisor_hostname"] for h in found.json()["hypervisors"]] == ["hv-up.example"]
    page = admin_api.get(f"{V}/os-hypervisors?limit=2", **LATEST).json()
    assert len(page["hypervisors"]) == 2 and "hypervisors_links" in page
    marker = page["hypervisors"][-1]["id"]
    rest = admin_api.get(f"{V}/os-hypervisors?limit=2&marker={marker}", **LATEST).json()
    assert len(rest["hypervisors"]) == 1 and "hypervisors_links" not in rest


def test_availability_zones(api, admin_api, hosts):
    zones = api.get(f"{V}/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [
        {"zoneName": "east", "zoneState": {"available": False}, "hosts": None},
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None},
    ]
    detail = admin_api.get(f"{V}/os-availability-zone/detail").json()["availabilityZoneInfo"]
    nova = next(z for z in detail if z["zoneName"] == "nova")
    assert nova["hosts"]["hv-up"]["nova-compute"]["available"] is True
    assert nova["hosts"]["hv-down"]["nova-compute"]["available"] is False
    assert api.get(f"{V}/os-availability-zone/detail").status_code == 403


def test_host_views_are_admin_only(api, hosts):
    for url in (
        "os-services",
        "os-hypervisors",
        "os-hypervisors/detail",
        f"os-hypervisors/{hosts.id}",
    ):
        assert api.get(f"{V}/{url}").status_code == 403
    reply = api.put(
        f"{V}/os-services/{hosts.uuid}", {"status": "disabled"}, format="json", **LATEST
    )
    assert reply.status_code == 403
    assert not ComputeNode.objects.get(host="hv-up").disabled
