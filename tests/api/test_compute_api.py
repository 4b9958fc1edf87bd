"""Compute API shapes and validation: discovery, microversions, flavors, bad input."""

import pytest
from rest_framework.test import APIClient

from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, InstanceAction, RequestSpec


def test_discovery_without_token(db):
    client = APIClient()
    v21 = client.get("/compute/v2.1")
    assert v21.status_code == 200
    doc = v21.json()["version"]
    assert (doc["id"], doc["status"], doc["min_version"], doc["version"]) == (
        "v2.1",
        "CURRENT",
        "2.1",
        "2.96",
    )
    assert doc["links"][0]["href"] == "http://testserver/compute/v2.1/"
    assert client.get("/compute/v2.1/").status_code == 200
    root = client.get("/compute").json()["versions"]
    assert [v["id"] for v in root] == ["v2.0", "v2.1"]


def test_microversion_negotiation(api):
    plain = api.get("/compute/v2.1/flavors")
    assert plain["OpenStack-API-Version"] == "compute 2.1"
    assert plain["X-OpenStack-Nova-API-Version"] == "2.1"
    new = api.get("/compute/v2.1/flavors", HTTP_OPENSTACK_API_VERSION="compute 2.61")
    assert new["OpenStack-API-Version"] == "compute 2.61"
    legacy = api.get("/compute/v2.1/flavors", HTTP_X_OPENSTACK_NOVA_API_VERSION="2.37")
    assert legacy["X-OpenStack-Nova-API-Version"] == "2.37"
    too_new = api.get("/compute/v2.1/flavors", HTTP_OPENSTACK_API_VERSION="compute 2.97")
    assert too_new.status_code == 406
    assert "maximum is 2.96" in too_new.json()["notAcceptable"]["message"]
    garbage = api.get("/compute/v2.1/flavors", HTTP_OPENSTACK_API_VERSION="compute two")
    assert garbage.status_code == 400


def test_flavor_shapes_follow_microversion(api):
    old = api.get("/compute/v2.1/flavors/detail").json()["flavors"][0]
    assert old["swap"] == "" and "extra_specs" not in old and "description" not in old
    new = api.get("/compute/v2.1/flavors/detail", HTTP_OPENSTACK_API_VERSION="compute 2.75").json()[
        "flavors"
    ][0]
    assert new["swap"] == 0 and new["extra_specs"] == {} and "description" in new
    assert [f["name"] for f in api.get("/compute/v2.1/flavors").json()["flavors"]] == [
        "m1.tiny",
        "m1.small",
        "m1.medium",
        "m1.large",
        "m1.xlarge",
    ]
    tiny = api.get("/compute/v2.1/flavors/1").json()["flavor"]
    assert (tiny["ram"], tiny["disk"], tiny["vcpus"]) == (512, 1, 1)
    assert api.get("/compute/v2.1/flavors/m1.tiny").status_code == 404


def test_flavor_pagination_and_filters(api):
    page = api.get("/compute/v2.1/flavors?limit=2").json()
    assert [f["id"] for f in page["flavors"]] == ["1", "2"]
    assert "marker=2" in page["flavors_links"][0]["href"]
    rest = api.get("/compute/v2.1/flavors?marker=2").json()["flavors"]
    assert [f["id"] for f in rest] == ["3", "4", "5"]
    big = api.get("/compute/v2.1/flavors?minRam=8192").json()["flavors"]
    assert [f["name"] for f in big] == ["m1.large", "m1.xlarge"]
    assert api.get("/compute/v2.1/flavors?minRam=lots").status_code == 400
    assert api.get("/compute/v2.1/flavors?marker=nope").status_code == 400


BAD_BODIES = [
    ({"server": {"imageRef": TINY_IMAGE_ID, "flavorRef": "1"}}, "name"),
    ({"server": {"name": "", "imageRef": TINY_IMAGE_ID, "flavorRef": "1"}}, "name"),
    ({"server": {"name": "x" * 256, "imageRef": TINY_IMAGE_ID, "flavorRef": "1"}}, "name"),
    ({"server": {"name": "ok", "imageRef": TINY_IMAGE_ID, "flavorRef": "99"}}, "Flavor 99"),
    (
        {
            "server": {
                "name": "ok",
                "imageRef": "11111111-1111-1111-1111-111111111111",
                "flavorRef": "1",
            }
        },
        "image",
    ),
    ({"server": {"name": "ok", "imageRef": "not-a-uuid", "flavorRef": "1"}}, "image"),
    ({"server": {"name": "ok", "flavorRef": "1"}}, "imageRef"),
    (
        {"server": {"name": "ok", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "min_count": -1}},
        "min_count",
    ),
    (
        {"server": {"name": "ok", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "max_count": 10**9}},
        "max_count",
    ),
    (
        {
            "server": {
                "name": "ok",
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "min_count": 3,
                "max_count": 2,
            }
        },
        "min_count",
    ),
    ({"server": {"name": "ok", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "bogus": 1}}, "bogus"),
    (
        {
            "server": {
                "name": "ok",
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "availability_zone": "mars",
            }
        },
        "availability zone",
    ),
    (
        {
            "server": {
                "name": "ok",
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "key_name": "missing",
            }
        },
        "key_name",
    ),
    (
        {
            "server": {
                "name": "ok",
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "networks": [{"uuid": "abc"}],
            }
        },
        "Network",
    ),
    (
        {
            "server": {
                "name": "ok",
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "metadata": {"k": "v" * 256},
            }
        },
        "metadata",
    ),
    ({"server": "not an object"}, "server"),
    ({"servers": {}}, "server"),
    ([], "server"),
]


@pytest.mark.parametrize(("body", "mentions"), BAD_BODIES)
def test_bad_server_bodies_are_400_and_write_nothing(api, body, mentions):
    response = api.post("/compute/v2.1/servers", body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["badRequest"]["message"]
    assert mentions.lower() in message.lower(), message
    assert not Instance.objects.exists()
    assert not InstanceAction.objects.exists()
    assert not RequestSpec.objects.exists()


def test_malformed_json_is_400(api):
    response = api.post("/compute/v2.1/servers", '{"server": ', content_type="application/json")
    assert response.status_code == 400
    assert "badRequest" in response.json()
    assert not Instance.objects.exists()


def test_create_writes_instance_spec_and_action(api):
    body = {
        "server": {
            "name": "vm",
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": 1,
            "networks": "none",
            "metadata": {"role": "web"},
            "block_device_mapping_v2": [
                {
                    "uuid": TINY_IMAGE_ID,
                    "boot_index": 0,
                    "source_type": "image",
                    "destination_type": "local",
                    "delete_on_termination": True,
                }
            ],
        }
    }
    response = api.post(
        "/compute/v2.1/servers", body, format="json", HTTP_OPENSTACK_API_VERSION="compute 2.96"
    )
    assert response.status_code == 202, response.content
    server_id = response.json()["server"]["id"]
    instance = Instance.objects.get(uuid=server_id)
    assert (instance.vm_state, instance.task_state) == ("building", "scheduling")
    assert instance.flavor["memory_mb"] == 512
    assert RequestSpec.objects.get(instance_uuid=server_id).resources == {
        "VCPU": 1,
        "MEMORY_MB": 512,
        "DISK_GB": 1,
    }
    action = InstanceAction.objects.get(instance_uuid=server_id)
    assert action.action == "create" and action.request_id == response["X-OpenStack-Request-ID"]
    shown = api.get(
        f"/compute/v2.1/servers/{server_id}", HTTP_OPENSTACK_API_VERSION="compute 2.96"
    ).json()["server"]
    assert shown["status"] == "BUILD"
    assert shown["metadata"] == {"role": "web"}
    assert shown["image"]["id"] == TINY_IMAGE_ID
    assert shown["pinned_availability_zone"] is None
    old = api.get(f"/compute/v2.1/servers/{server_id}").json()["server"]
    assert old["flavor"]["id"] == "1" and "locked" not in old


def test_unknown_server_and_url_are_404_in_nova_shape(api):
    for url in (
        "/compute/v2.1/servers/nope",
        "/compute/v2.1/servers/11111111-1111-1111-1111-111111111111",
        "/compute/v2.1/nothing-here",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["itemNotFound"]["code"] == 404


def test_server_list_filters_and_pages(api):
    ids = []
    for name in ("alpha-1", "alpha-2", "beta-1"):
        ids.append(
            api.post(
                "/compute/v2.1/servers",
                {
                    "server": {
                        "name": name,
                        "imageRef": TINY_IMAGE_ID,
                        "flavorRef": "1",
                        "networks": "none",
                    }
                },
                format="json",
            ).json()["server"]["id"]
        )
    names = [s["name"] for s in api.get("/compute/v2.1/servers?name=alpha").json()["servers"]]
    assert sorted(names) == ["alpha-1", "alpha-2"]
    assert api.get("/compute/v2.1/servers?name=(").status_code == 400
    first = api.get("/compute/v2.1/servers/detail?limit=2").json()
    assert len(first["servers"]) == 2 and first["servers_links"]
    second = api.get(
        f"/compute/v2.1/servers/detail?limit=2&marker={first['servers'][-1]['id']}"
    ).json()
    assert len(second["servers"]) == 1
    seen = {s["id"] for s in first["servers"] + second["servers"]}
    assert seen == set(ids)
    assert api.get("/compute/v2.1/servers?status=ACTIVE").json()["servers"] == []


def test_diagnostics_are_admin_only(api, admin_api):
    server_id = api.post(
        "/compute/v2.1/servers",
        {"server": {"name": "d", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}},
        format="json",
    ).json()["server"]["id"]
    assert api.get(f"/compute/v2.1/servers/{server_id}/diagnostics").status_code == 403
    building = admin_api.get(f"/compute/v2.1/servers/{server_id}/diagnostics")
    assert building.status_code == 409
