"""The Block Storage request bodies are checked by their declared schemas
(cloud.volumes.api.body_schemas) before the views run: what the openstack CLI sends
(nulls for what it leaves unset, scheduler hints at the top level) is taken; a body
of the wrong shape is a 400 in Cinder's error shape naming the field, and writes
nothing."""

import pytest

from cloud.identity.models import Project
from cloud.volumes.models import Volume, VolumeSnapshot, VolumeType

V3 = {"HTTP_OPENSTACK_API_VERSION": "volume 3.71"}
MISSING = "8a1e6f4c-0000-4000-8000-000000000000"


def _base(name: str = "alpha") -> str:
    return f"/volume/v3/{Project.objects.get(name=name).id}"


def test_the_cli_s_volume_create_body_is_taken(api):
    body = {
        "volume": {
            "size": 1,
            "name": "V",
            "description": None,
            "snapshot_id": None,
            "source_volid": None,
            "backup_id": None,
            "volume_type": None,
            "availability_zone": None,
            "metadata": None,
            "imageRef": None,
            "consistencygroup_id": None,
            "multiattach": False,
        },
        "OS-SCH-HNT:scheduler_hints": {"same_host": []},
    }
    response = api.post(f"{_base()}/volumes", body, format="json", **V3)
    assert response.status_code == 202, response.content
    assert Volume.objects.get().name == "V"


def test_unknown_volume_keys_are_taken_before_3_53_and_refused_from_it(api):
    body = {"volume": {"size": 1, "display_name": "old", "colour": "red"}}
    refused = api.post(f"{_base()}/volumes", body, format="json", **V3)
    assert refused.status_code == 400, refused.content
    assert "'colour'" in refused.json()["badRequest"]["message"]
    assert not Volume.objects.exists()
    taken = api.post(f"{_base()}/volumes", body, format="json")  # no header: 3.0
    assert taken.status_code == 202, taken.content
    volume_id = taken.json()["volume"]["id"]
    assert Volume.objects.get().name == "old"
    item = f"{_base()}/volumes/{volume_id}"
    assert api.put(item, {"volume": {}}, format="json", **V3).status_code == 400
    assert api.put(item, {"volume": {}}, format="json").status_code == 200
    renamed = api.put(item, {"volume": {"display_name": "new"}}, format="json", **V3)
    assert renamed.json()["volume"]["name"] == "new"


@pytest.mark.parametrize(
    "route, body, field",
    [
        ("volumes", {"volume": {"size": 1}, "colour": "red"}, "colour"),
        ("volumes", {"volume": {"size": "1x"}}, "size"),
        ("volumes", {"volume": {"size": 1, "multiattach": "maybe"}}, "multiattach"),
        ("volumes", {"volume": {"size": 1, "snapshot_id": "x"}}, "snapshot_id"),
        ("volumes", {"volume": {"size": 1, "metadata": {"a<b": "c"}}}, "metadata"),
        ("snapshots", {"snapshot": {"name": "s"}}, "volume_id"),
        ("snapshots", {"snapshot": {"volume_id": MISSING, "force": "maybe"}}, "force"),
    ],
)
def test_a_bad_create_is_a_400_naming_the_field(api, route, body, field):
    response = api.post(f"{_base()}/{route}", body, format="json", **V3)
    assert response.status_code == 400, response.content
    assert field in response.json()["badRequest"]["message"]
    assert not Volume.objects.exists() and not VolumeSnapshot.objects.exists()


@pytest.mark.parametrize(
    "method, route, body",
    [
        ("put", "", {"volume": {"size": 2}}),
        ("post", "/action", {"os-extend": {"new_size": 0}}),
        ("post", "/action", {"os-extend": {"new_size": 2}, "os-set_bootable": {"bootable": 1}}),
        ("post", "/action", {"os-set_bootable": {}}),
        ("post", "/action", {"os-retype": {"new_type": "x"}}),
        ("post", "/metadata", {"metadata": ["a"]}),
        ("put", "/metadata", {}),
        ("put", "/metadata/a", {"meta": {"a": "1", "b": "2"}}),
    ],
)
def test_a_bad_volume_body_is_a_400_and_changes_nothing(api, method, route, body):
    created = api.post(f"{_base()}/volumes", {"volume": {"size": 1}}, format="json", **V3)
    volume_id = created.json()["volume"]["id"]
    response = getattr(api, method)(
        f"{_base()}/volumes/{volume_id}{route}", body, format="json", **V3
    )
    assert response.status_code == 400, response.content
    assert "badRequest" in response.json()
    row = Volume.objects.get(pk=volume_id)
    assert (row.size, row.metadata, row.status, row.bootable) == (1, {}, "creating", False)


def test_bootable_takes_cinder_s_words(api):
    created = api.post(f"{_base()}/volumes", {"volume": {"size": 1}}, format="json", **V3)
    volume_id = created.json()["volume"]["id"]
    Volume.objects.filter(pk=volume_id).update(status="available")
    action = f"{_base()}/volumes/{volume_id}/action"
    response = api.post(action, {"os-set_bootable": {"bootable": "on"}}, format="json", **V3)
    assert response.status_code == 202, response.content
    assert Volume.objects.get(pk=volume_id).bootable is True


@pytest.mark.parametrize(
    "route, body",
    [
        ("types", {"volume_type": {"description": "no name"}}),
        ("types", {"volume_type": {"name": "t", "extra_specs": {"k": 1}}}),
        ("os-quota-sets/{pid}", {"quota_set": {"volumes": "many"}}),
        ("os-quota-sets/{pid}", {"quota_set": {"volumes": -2}}),
        ("os-quota-sets/{pid}", {"quota_set": {}}),
    ],
)
def test_a_bad_admin_body_is_a_400(admin_api, route, body):
    base = _base("admin")
    target = route.format(pid=base.rsplit("/", 1)[1])
    method = admin_api.put if "quota" in route else admin_api.post
    response = method(f"{base}/{target}", body, format="json", **V3)
    assert response.status_code == 400, response.content
    assert "badRequest" in response.json()
    assert not VolumeType.objects.exclude(name="__DEFAULT__").exists()
