"""os-aggregates: every call and its shapes per microversion, the admin-only policy, and
the zones aggregates give hosts (ComputeNode.availability_zone kept in step)."""

import pytest
from django.utils import timezone

from cloud.hosts.models import Aggregate, AggregateHost, ComputeNode
from cloud.hosts.services import compute_node_report
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, RequestSpec
from cloud.payloads import HostReport

V = "/compute/v2.1"
AGGREGATES = f"{V}/os-aggregates"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
SHOWN = {
    "id",
    "name",
    "availability_zone",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "hosts",
    "metadata",
}


@pytest.fixture
def hosts(seeded):
    now = timezone.now()
    for host in ("hv-1", "hv-2", "hv-3"):
        ComputeNode.objects.create(host=host, last_seen_at=now)


def zone_of(host: str) -> str:
    return ComputeNode.objects.get(host=host).availability_zone


def create(client, name: str, zone: str | None = None, **headers) -> dict:
    body = {"name": name} if zone is None else {"name": name, "availability_zone": zone}
    reply = client.post(AGGREGATES, {"aggregate": body}, format="json", **headers)
    assert reply.status_code == 200, reply.content
    return reply.json()["aggregate"]


def action(client, aggregate_id, name: str, args: dict, **headers):
    return client.post(
        f"{AGGREGATES}/{aggregate_id}/action", {name: args}, format="json", **headers
    )


def test_create_show_list_update_delete_in_nova_shapes(admin_api, hosts):
    created = create(admin_api, "agg1", "az1")
    assert set(created) == SHOWN - {"hosts", "metadata"}
    assert isinstance(created["id"], int) and created["availability_zone"] == "az1"
    assert created["deleted"] is False and created["deleted_at"] is None
    url = f"{AGGREGATES}/{created['id']}"
    shown = admin_api.get(url).json()["aggregate"]
    assert set(shown) == SHOWN
    assert shown["hosts"] == [] and shown["metadata"] == {"availability_zone": "az1"}
    latest = admin_api.get(url, **LATEST).json()["aggregate"]
    assert latest["uuid"] == str(Aggregate.objects.get(name="agg1").uuid)
    assert (
        set(admin_api.get(url, HTTP_OPENSTACK_API_VERSION="compute 2.40").json()["aggregate"])
        == SHOWN
    )
    assert "uuid" in create(admin_api, "agg2", **LATEST)

    listed = admin_api.get(AGGREGATES).json()["aggregates"]
    assert [(a["name"], a["availability_zone"]) for a in listed] == [
        ("agg1", "az1"),
        ("agg2", None),
    ]
    assert set(listed[0]) == SHOWN

    renamed = admin_api.put(url, {"aggregate": {"name": " agg-one "}}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["aggregate"]["name"] == "agg-one"
    moved = admin_api.put(url, {"aggregate": {"availability_zone": "az9"}}, format="json")
    assert moved.json()["aggregate"]["metadata"] == {"availability_zone": "az9"}

    deleted = admin_api.delete(url)
    assert deleted.status_code == 200 and deleted.content == b""
    assert admin_api.get(url).status_code == 404
    assert admin_api.delete(url).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"aggregate": {}},
        {"aggregate": {"name": ""}},
        {"aggregate": {"name": "x" * 256}},
        {"aggregate": {"name": " padded"}},
        {"aggregate": {"name": 7}},
        {"aggregate": {"name": "ok", "availability_zone": "bad:zone"}},
        {"aggregate": {"name": "ok", "availability_zone": ""}},
        {"aggregate": {"name": "ok", "colour": "red"}},
        {"aggregate": {"name": "ok"}, "extra": 1},
        ["aggregate"],
    ],
)
def test_bad_creates_are_400_and_write_nothing(admin_api, hosts, body):
    reply = admin_api.post(AGGREGATES, body, format="json")
    assert reply.status_code == 400, reply.content
    assert "badRequest" in reply.json()
    assert not Aggregate.objects.exists()


def test_names_are_unique(admin_api, hosts):
    first = create(admin_api, "agg1")
    second = create(admin_api, "agg2")
    again = admin_api.post(AGGREGATES, {"aggregate": {"name": "agg1"}}, format="json")
    assert again.status_code == 409
    assert again.json()["conflictingRequest"]["message"] == "Aggregate agg1 already exists."
    rename = admin_api.put(
        f"{AGGREGATES}/{second['id']}", {"aggregate": {"name": "agg1"}}, format="json"
    )
    assert rename.status_code == 409
    assert Aggregate.objects.get(pk=first["id"]).name == "agg1"


def test_hosts_take_the_zone_of_their_aggregate(api, admin_api, hosts):
    agg = create(admin_api, "agg1", "az1")
    added = action(admin_api, agg["id"], "add_host", {"host": "hv-1"})
    assert added.status_code == 200, added.content
    assert added.json()["aggregate"]["hosts"] == ["hv-1"]
    assert zone_of("hv-1") == "az1" and zone_of("hv-2") == "nova"
    zones = api.get(f"{V}/os-availability-zone").json()["availabilityZoneInfo"]
    assert [z["zoneName"] for z in zones] == ["az1", "nova"]
    services = admin_api.get(f"{V}/os-services?host=hv-1").json()["services"]
    assert services[0]["zone"] == "az1"

    plain = create(admin_api, "plain")
    assert action(admin_api, plain["id"], "add_host", {"host": "hv-1"}).status_code == 200
    assert action(admin_api, plain["id"], "add_host", {"host": "hv-2"}).status_code == 200
    assert zone_of("hv-1") == "az1" and zone_of("hv-2") == "nova"

    url = f"{AGGREGATES}/{agg['id']}"
    assert (
        admin_api.put(url, {"aggregate": {"availability_zone": "az2"}}, format="json").status_code
        == 200
    )
    assert zone_of("hv-1") == "az2"
    removed = action(admin_api, agg["id"], "remove_host", {"host": "hv-1"})
    assert removed.status_code == 200 and removed.json()["aggregate"]["hosts"] == []
    assert zone_of("hv-1") == "nova"
    assert AggregateHost.objects.filter(host="hv-1").count() == 1  # still in "plain"


def test_a_host_is_in_one_zone_only(admin_api, hosts):
    az1 = create(admin_api, "agg1", "az1")
    az2 = create(admin_api, "agg2", "az2")
    also_az1 = create(admin_api, "agg3", "az1")
    plain = create(admin_api, "plain")
    for agg in (az1, plain):
        assert action(admin_api, agg["id"], "add_host", {"host": "hv-1"}).status_code == 200
    clash = action(admin_api, az2["id"], "add_host", {"host": "hv-1"})
    assert clash.status_code == 409
    assert clash.json()["conflictingRequest"]["message"] == (
        f"Cannot add host to aggregate {az2['id']}. Reason: One or more hosts already in "
        "availability zone(s) ['az1']."
    )
    assert action(admin_api, also_az1["id"], "add_host", {"host": "hv-1"}).status_code == 200
    url = f"{AGGREGATES}/{plain['id']}"
    moved = admin_api.put(url, {"aggregate": {"availability_zone": "az2"}}, format="json")
    assert moved.status_code == 400
    assert "One or more hosts already in availability zone(s) ['az1']" in str(moved.json())
    meta = action(
        admin_api, plain["id"], "set_metadata", {"metadata": {"availability_zone": "az2"}}
    )
    assert meta.status_code == 400
    same = action(
        admin_api, plain["id"], "set_metadata", {"metadata": {"availability_zone": "az1"}}
    )
    assert same.status_code == 200
    assert zone_of("hv-1") == "az1" and Aggregate.objects.get(pk=az2["id"]).hosts.count() == 0


def test_set_metadata_merges_and_null_removes(admin_api, hosts):
    agg = create(admin_api, "agg1")
    assert action(admin_api, agg["id"], "add_host", {"host": "hv-3"}).status_code == 200
    reply = action(
        admin_api,
        agg["id"],
        "set_metadata",
        {"metadata": {"ssd": "true", "gpu": "no", "availability_zone": "fast"}},
    )
    assert reply.status_code == 200, reply.content
    body = reply.json()["aggregate"]
    assert body["metadata"] == {"ssd": "true", "gpu": "no", "availability_zone": "fast"}
    assert body["availability_zone"] == "fast" and zone_of("hv-3") == "fast"
    reply = action(admin_api, agg["id"], "set_metadata", {"metadata": {"gpu": None, "x": None}})
    assert reply.json()["aggregate"]["metadata"] == {"ssd": "true", "availability_zone": "fast"}
    no_zone = action(
        admin_api, agg["id"], "set_metadata", {"metadata": {"availability_zone": None}}
    )
    assert no_zone.status_code == 400
    assert "does not support empty named availability zone" in str(no_zone.json())
    for bad in (
        {"metadata": {"bad/key": "v"}},
        {"metadata": {"k": "v" * 256}},
        {"metadata": {"k": 1}},
        {"metadata": "k=v"},
        {},
        {"metadata": {}, "more": 1},
    ):
        assert action(admin_api, agg["id"], "set_metadata", bad).status_code == 400, bad
    assert Aggregate.objects.get(pk=agg["id"]).metadata == {
        "ssd": "true",
        "availability_zone": "fast",
    }


def test_hosts_and_aggregates_must_exist(admin_api, hosts):
    agg = create(admin_api, "agg1", "az1")
    unknown = action(admin_api, agg["id"], "add_host", {"host": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["itemNotFound"]["message"] == "Compute host nope could not be found."
    assert action(admin_api, agg["id"], "add_host", {"host": "hv-1"}).status_code == 200
    twice = action(admin_api, agg["id"], "add_host", {"host": "hv-1"})
    assert twice.status_code == 409
    assert twice.json()["conflictingRequest"]["message"] == (
        f"Aggregate {agg['id']} already has host hv-1."
    )
    absent = action(admin_api, agg["id"], "remove_host", {"host": "hv-2"})
    assert absent.status_code == 404
    assert absent.json()["itemNotFound"]["message"] == (
        f"Cannot remove host hv-2 in aggregate {agg['id']}"
    )
    assert action(admin_api, 9999, "add_host", {"host": "hv-1"}).status_code == 404
    assert admin_api.get(f"{AGGREGATES}/9999").status_code == 404
    assert admin_api.get(f"{AGGREGATES}/abc").status_code == 400
    assert admin_api.delete(f"{AGGREGATES}/abc").status_code == 400
    assert action(admin_api, agg["id"], "evict_host", {"host": "hv-1"}).status_code == 400
    assert action(admin_api, agg["id"], "add_host", {"name": "hv-1"}).status_code == 400
    assert action(admin_api, agg["id"], "add_host", {}).status_code == 400
    both = admin_api.post(
        f"{AGGREGATES}/{agg['id']}/action",
        {"add_host": {"host": "hv-2"}, "remove_host": {"host": "hv-1"}},
        format="json",
    )
    assert both.status_code == 400
    assert list(AggregateHost.objects.values_list("host", flat=True)) == ["hv-1"]


def test_a_non_empty_aggregate_is_not_deleted(admin_api, hosts):
    agg = create(admin_api, "agg1", "az1")
    action(admin_api, agg["id"], "add_host", {"host": "hv-1"})
    refused = admin_api.delete(f"{AGGREGATES}/{agg['id']}")
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"] == (
        f"Cannot remove host from aggregate {agg['id']}. Reason: Host aggregate is not empty."
    )
    assert Aggregate.objects.filter(pk=agg["id"]).exists() and zone_of("hv-1") == "az1"


def test_the_zone_of_hosts_with_servers_stays(admin_api, hosts):
    agg = create(admin_api, "agg1", "az1")
    action(admin_api, agg["id"], "add_host", {"host": "hv-1"})
    Instance.objects.create(display_name="vm", project_id="p", user_id="u", flavor={}, host="hv-1")
    url = f"{AGGREGATES}/{agg['id']}"
    moved = admin_api.put(url, {"aggregate": {"availability_zone": "az2"}}, format="json")
    assert moved.status_code == 400
    assert "One or more hosts contain instances in this zone" in str(moved.json())
    assert admin_api.put(url, {"aggregate": {"name": "renamed"}}, format="json").status_code == 200
    assert zone_of("hv-1") == "az1"


def test_the_default_zone_comes_from_settings(admin_api, hosts, settings):
    settings.DEFAULT_AVAILABILITY_ZONE = "zone0"
    agg = create(admin_api, "agg1", "az1")
    action(admin_api, agg["id"], "add_host", {"host": "hv-1"})
    action(admin_api, agg["id"], "remove_host", {"host": "hv-1"})
    assert zone_of("hv-1") == "zone0"


def test_a_host_registering_again_keeps_its_aggregate_zone(admin_api, hosts):
    agg = create(admin_api, "agg1", "az1")
    action(admin_api, agg["id"], "add_host", {"host": "hv-1"})
    ComputeNode.objects.filter(host="hv-1").delete()
    report = HostReport(
        host="hv-1",
        hypervisor_type="TEST",
        hypervisor_version=1,
        hypervisor_hostname="hv-1",
        libvirt_uri="test:///default",
        vcpus=4,
        memory_mb=2048,
        local_gb=10,
    )
    compute_node_report(report=report)
    assert zone_of("hv-1") == "az1"
    compute_node_report(report=report)
    assert zone_of("hv-1") == "az1"


def test_servers_may_ask_for_an_aggregate_zone(api, admin_api, hosts):
    agg = create(admin_api, "agg1", "az1")
    server = {"name": "vm", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}

    def boot(zone: str):
        body = {"server": {**server, "availability_zone": zone}}
        return api.post(f"{V}/servers", body, format="json", **LATEST)

    empty_zone = boot("az1")  # named by an aggregate, even with no host yet
    assert empty_zone.status_code == 202, empty_zone.content
    spec = RequestSpec.objects.get(instance_uuid=empty_zone.json()["server"]["id"])
    assert (spec.availability_zone, spec.forced_host) == ("az1", None)
    assert boot("nova").status_code == 202
    missing = boot("az2")
    assert missing.status_code == 400
    assert missing.json()["badRequest"]["message"] == (
        "The requested availability zone is not available"
    )
    action(admin_api, agg["id"], "set_metadata", {"metadata": {"availability_zone": "az2"}})
    assert boot("az2").status_code == 202 and boot("az1").status_code == 400


def test_aggregates_are_admin_only(api, hosts, admin_api):
    agg = create(admin_api, "agg1", "az1")
    url = f"{AGGREGATES}/{agg['id']}"
    calls = [
        api.get(AGGREGATES),
        api.post(AGGREGATES, {"aggregate": {"name": "mine"}}, format="json"),
        api.get(url),
        api.put(url, {"aggregate": {"name": "mine"}}, format="json"),
        api.delete(url),
        action(api, agg["id"], "add_host", {"host": "hv-1"}),
        action(api, agg["id"], "remove_host", {"host": "hv-1"}),
        action(api, agg["id"], "set_metadata", {"metadata": {"k": "v"}}),
    ]
    assert [c.status_code for c in calls] == [403] * len(calls)
    assert "os_compute_api" not in b"".join(c.content for c in calls).decode()
    assert list(Aggregate.objects.values_list("name", "metadata")) == [
        ("agg1", {"availability_zone": "az1"})
    ]
    assert not AggregateHost.objects.exists() and zone_of("hv-1") == "nova"
