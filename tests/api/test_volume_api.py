"""The Cinder v3 subset over HTTP, with no workers: each call's shape, and each bad
request a clear 4xx that writes nothing. A volume's data is made by its worker
(tests/integration/test_volumes.py); here the worker's report is handed to the service
the conductor calls with it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cloud.identity.models import Project
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.payloads import VolumeResult
from cloud.volumes import services
from cloud.volumes.models import Volume, VolumeSnapshot, VolumeType
from tests.helpers import casts

V3 = {"HTTP_OPENSTACK_API_VERSION": "volume 3.71"}


def _pid(name: str) -> str:
    return str(Project.objects.get(name=name).id)


def url(project: str, route: str) -> str:
    return f"/volume/v3/{_pid(project)}/{route}"


def create(client, body: dict, project: str = "alpha"):
    return client.post(url(project, "volumes"), {"volume": body}, format="json", **V3)


def made(volume_id: str, size: int = 1) -> None:
    """What the conductor does with the worker's 'created' report."""
    services.volume_create_reported(
        result=VolumeResult(
            volume_id=volume_id, backend="file", provider_location=f"/v/{volume_id}", size=size
        )
    )


def test_version_documents_are_anonymous_and_name_3_71(client):
    for path in ("/volume", "/volume/", "/volume/v3", "/volume/v3/"):
        response = client.get(path)
        assert response.status_code == 200, path
        (version,) = response.json()["versions"]
        assert (version["id"], version["version"], version["min_version"]) == (
            "v3.0",
            "3.71",
            "3.0",
        )
        assert version["links"][0]["href"].endswith("/volume/v3/")


def test_the_catalog_has_block_storage_with_the_project_in_its_url(seeded):
    from rest_framework.test import APIClient

    from tests.helpers import auth_body

    token = APIClient().post("/identity/v3/auth/tokens", auth_body("alice", "alpha"), format="json")
    services_by_type = {s["type"]: s for s in token.json()["token"]["catalog"]}
    for kind in ("block-storage", "volumev3"):
        urls = {e["url"] for e in services_by_type[kind]["endpoints"]}
        assert urls == {f"http://testserver/volume/v3/{_pid('alpha')}"}


def test_create_show_list_update_and_delete_a_volume(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = create(
            api, {"size": 2, "name": "data", "description": "d", "metadata": {"a": "1"}}
        )
    assert response.status_code == 202, response.content
    volume = response.json()["volume"]
    assert (volume["status"], volume["size"], volume["volume_type"]) == (
        "creating",
        2,
        "__DEFAULT__",
    )
    assert volume["attachments"] == [] and volume["bootable"] == "false"
    assert volume["metadata"] == {"a": "1"} and volume["consumes_quota"] is True
    assert "os-vol-host-attr:host" not in volume
    assert len(casts(callbacks)) == 1
    made(volume["id"], 2)
    shown = api.get(url("alpha", f"volumes/{volume['id']}"), **V3)
    assert shown.status_code == 200 and shown["OpenStack-API-Version"] == "volume 3.71"
    assert shown.json()["volume"]["status"] == "available"
    listed = api.get(url("alpha", "volumes"), **V3).json()["volumes"]
    assert [(v["id"], v["name"]) for v in listed] == [(volume["id"], "data")]
    detail = api.get(url("alpha", "volumes/detail?name=data"), **V3).json()["volumes"]
    assert detail[0]["status"] == "available"
    assert api.get(url("alpha", "volumes/detail?name=other"), **V3).json()["volumes"] == []
    updated = api.put(
        url("alpha", f"volumes/{volume['id']}"),
        {"volume": {"name": "renamed", "description": "new"}},
        format="json",
        **V3,
    )
    assert updated.status_code == 200 and updated.json()["volume"]["name"] == "renamed"
    meta = api.post(
        url("alpha", f"volumes/{volume['id']}/metadata"), {"metadata": {"b": "2"}}, format="json"
    )
    assert meta.json() == {"metadata": {"a": "1", "b": "2"}}
    assert api.delete(url("alpha", f"volumes/{volume['id']}/metadata/a")).status_code == 200
    with django_capture_on_commit_callbacks() as callbacks:
        assert api.delete(url("alpha", f"volumes/{volume['id']}"), **V3).status_code == 202
    assert len(casts(callbacks)) == 1
    assert Volume.objects.get(pk=volume["id"]).status == "deleting"
    services.volume_delete_reported(result=VolumeResult(volume_id=volume["id"], backend="file"))
    assert api.get(url("alpha", f"volumes/{volume['id']}")).status_code == 404


@pytest.mark.parametrize(
    "body, code, words",
    [
        ({"size": 0}, 400, "size"),
        ({"size": -1}, 400, "size"),
        ({"size": "big"}, 400, "size"),
        ({"size": 1.5}, 400, "size"),
        ({"size": 10**9}, 400, "size"),
        ({}, 400, "size is required"),
        ({"size": 1, "volume_type": "nope"}, 404, "Volume type with name nope"),
        (
            {"size": 1, "imageRef": "8a1e6f4c-0000-4000-8000-000000000000"},
            400,
            "could not be found",
        ),
        ({"size": 1, "snapshot_id": "8a1e6f4c-0000-4000-8000-000000000000"}, 404, "Snapshot"),
        ({"size": 1, "availability_zone": "mars"}, 400, "Availability zone"),
        ({"size": 1, "name": 5}, 400, "field/attribute name. Value: 5"),
        ({"size": 1, "metadata": {"k": 1}}, 400, "field/attribute k. Value: 1"),
        ({"size": 1, "source_volid": "x"}, 400, "source_volid"),
    ],
)
def test_bad_creates_are_4xx_and_write_nothing(api, body, code, words):
    response = create(api, body)
    assert response.status_code == code, response.content
    message = next(iter(response.json().values()))["message"]
    assert words in message
    assert Volume.objects.count() == 0


def test_a_body_without_volume_is_a_400(api):
    response = api.post(url("alpha", "volumes"), {"size": 1}, format="json")
    assert response.status_code == 400
    assert "badRequest" in response.json()


def test_a_volume_from_an_image_is_bootable_and_at_least_the_image_size(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = create(api, {"imageRef": TINY_IMAGE_ID, "name": "boot"})
    assert response.status_code == 202, response.content
    volume = response.json()["volume"]
    assert volume["size"] == 1 and volume["bootable"] == "true"
    assert volume["volume_image_metadata"]["image_id"] == TINY_IMAGE_ID
    assert len(casts(callbacks)) == 1


def test_over_quota_is_a_413_in_cinders_words_and_writes_nothing(api, admin_api):
    pid = _pid("alpha")
    response = admin_api.put(
        f"/volume/v3/{pid}/os-quota-sets/{pid}",
        {"quota_set": {"volumes": 2, "gigabytes": 5}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["quota_set"]["volumes"] == 2
    big = create(api, {"size": 6})
    assert big.status_code == 413
    assert big.json()["overLimit"]["message"] == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 6G, quota is 5G and 0G has been consumed."
    )
    assert create(api, {"size": 2}).status_code == 202
    assert create(api, {"size": 2}).status_code == 202
    third = create(api, {"size": 1})
    assert third.status_code == 413
    assert "Maximum number of volumes allowed (2)" in third.json()["overLimit"]["message"]
    assert Volume.objects.count() == 2
    usage = api.get(f"/volume/v3/{pid}/os-quota-sets/{pid}?usage=True").json()["quota_set"]
    assert usage["volumes"] == {"limit": 2, "in_use": 2, "reserved": 0, "allocated": 0}
    assert usage["gigabytes"]["in_use"] == 4
    limits = api.get(f"/volume/v3/{pid}/limits").json()["limits"]["absolute"]
    assert (limits["maxTotalVolumes"], limits["totalGigabytesUsed"]) == (2, 4)
    assert (
        api.put(
            f"/volume/v3/{pid}/os-quota-sets/{pid}", {"quota_set": {"volumes": 9}}, format="json"
        ).status_code
        == 403
    )
    bad = admin_api.put(
        f"/volume/v3/{pid}/os-quota-sets/{pid}", {"quota_set": {"volumes": 1}}, format="json"
    )
    assert bad.status_code == 400 and "already used" in bad.json()["badRequest"]["message"]
    assert admin_api.delete(f"/volume/v3/{pid}/os-quota-sets/{pid}").status_code == 200
    assert api.get(f"/volume/v3/{pid}/os-quota-sets/{pid}").json()["quota_set"]["volumes"] == 10


def _available(api, size: int = 1) -> str:
    volume_id = create(api, {"size": size}).json()["volume"]["id"]
    made(volume_id, size)
    return volume_id


def test_extend_grows_after_the_worker_and_counts_at_once(api, django_capture_on_commit_callbacks):
    volume_id = _available(api)
    action = url("alpha", f"volumes/{volume_id}/action")
    assert api.post(action, {"os-extend": {"new_size": 1}}, format="json").status_code == 400
    assert api.post(action, {"os-extend": {"new_size": "x"}}, format="json").status_code == 400
    with django_capture_on_commit_callbacks() as callbacks:
        assert api.post(action, {"os-extend": {"new_size": 3}}, format="json").status_code == 202
    assert len(casts(callbacks)) == 1
    volume = Volume.objects.get(pk=volume_id)
    assert (volume.status, volume.size, volume.extend_to) == ("extending", 1, 3)
    again = api.post(action, {"os-extend": {"new_size": 4}}, format="json")
    assert (
        again.status_code == 400 and "must be 'available'" in again.json()["badRequest"]["message"]
    )
    services.volume_extend_reported(
        result=VolumeResult(volume_id=volume_id, backend="file", size=3)
    )
    volume.refresh_from_db()
    assert (volume.status, volume.size, volume.extend_to) == ("available", 3, None)


def test_reset_status_is_for_admins(api, admin_api):
    volume_id = _available(api)
    action = url("alpha", f"volumes/{volume_id}/action")
    body = {"os-reset_status": {"status": "error"}}
    assert api.post(action, body, format="json").status_code == 403
    assert admin_api.post(action, body, format="json").status_code == 202
    assert Volume.objects.get(pk=volume_id).status == "error"
    bad = admin_api.post(action, {"os-reset_status": {"status": "sleepy"}}, format="json")
    assert bad.status_code == 400
    assert admin_api.post(action, {"os-nope": {}}, format="json").status_code == 400


def test_a_volume_in_use_or_with_snapshots_is_not_deleted(api):
    volume_id = _available(api)
    context_volume = Volume.objects.get(pk=volume_id)
    from cloud.identity.context import RequestContext

    ctx = RequestContext(
        user_id="u",
        user_name="u",
        project_id=context_volume.project_id,
        project_name="alpha",
        roles=["member", "reader"],
    )
    attachment = services.reserve_attachment(
        ctx, volume_id, "5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11", "h"
    )
    services.attachment_connected(str(attachment.pk), "/dev/vdb", {})
    shown = api.get(url("alpha", f"volumes/{volume_id}"), **V3).json()["volume"]
    assert shown["status"] == "in-use"
    assert shown["attachments"][0]["server_id"] == "5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11"
    refused = api.delete(url("alpha", f"volumes/{volume_id}"))
    assert refused.status_code == 400 and "attached" in refused.json()["badRequest"]["message"]
    assert Volume.objects.get(pk=volume_id).status == "in-use"
    snapshot = api.post(
        url("alpha", "snapshots"), {"snapshot": {"volume_id": volume_id}}, format="json"
    )
    assert snapshot.status_code == 400  # in-use without force
    forced = api.post(
        url("alpha", "snapshots"),
        {"snapshot": {"volume_id": volume_id, "force": True, "name": "s"}},
        format="json",
    )
    assert forced.status_code == 202
    services.begin_detach(ctx, str(attachment.pk))
    services.detach_finished(str(attachment.pk))
    still = api.delete(url("alpha", f"volumes/{volume_id}"))
    assert still.status_code == 400 and "snapshots" in still.json()["badRequest"]["message"]


def test_snapshots_create_list_show_delete_and_volumes_from_them(
    api, django_capture_on_commit_callbacks
):
    volume_id = _available(api, 2)
    response = api.post(
        url("alpha", "snapshots"),
        {"snapshot": {"volume_id": volume_id, "name": "s1", "description": "x"}},
        format="json",
        **V3,
    )
    assert response.status_code == 202, response.content
    snapshot = response.json()["snapshot"]
    assert (snapshot["status"], snapshot["size"], snapshot["volume_id"]) == (
        "creating",
        2,
        volume_id,
    )
    services.snapshot_create_reported(
        result=VolumeResult(
            volume_id=volume_id, backend="file", snapshot_id=snapshot["id"], provider_location="/s"
        )
    )
    listed = api.get(url("alpha", "snapshots/detail"), **V3).json()["snapshots"]
    assert [(s["id"], s["status"]) for s in listed] == [(snapshot["id"], "available")]
    small = create(api, {"size": 1, "snapshot_id": snapshot["id"]})
    assert small.status_code == 400 and "snapshot size" in small.json()["badRequest"]["message"]
    with django_capture_on_commit_callbacks() as callbacks:
        copy = create(api, {"snapshot_id": snapshot["id"], "name": "copy"})
    assert copy.status_code == 202 and copy.json()["volume"]["size"] == 2
    assert copy.json()["volume"]["snapshot_id"] == snapshot["id"]
    assert len(casts(callbacks)) == 1
    assert api.delete(url("alpha", f"snapshots/{snapshot['id']}")).status_code == 202
    assert api.delete(url("alpha", f"snapshots/{snapshot['id']}")).status_code == 400
    services.snapshot_delete_reported(
        result=VolumeResult(volume_id=volume_id, backend="file", snapshot_id=snapshot["id"])
    )
    assert not VolumeSnapshot.objects.exists()
    missing = api.post(url("alpha", "snapshots"), {"snapshot": {}}, format="json")
    assert missing.status_code == 400


def test_volume_types_with_extra_specs_and_multiattach(api, admin_api):
    pid = _pid("admin")
    created = admin_api.post(
        f"/volume/v3/{pid}/types",
        {
            "volume_type": {
                "name": "shared",
                "description": "many",
                "os-volume-type-access:is_public": True,
            }
        },
        format="json",
    )
    assert created.status_code == 200, created.content
    type_id = created.json()["volume_type"]["id"]
    specs = admin_api.post(
        f"/volume/v3/{pid}/types/{type_id}/extra_specs",
        {"extra_specs": {"multiattach": "<is> True"}},
        format="json",
    )
    assert specs.json() == {"extra_specs": {"multiattach": "<is> True"}}
    assert (
        admin_api.post(
            f"/volume/v3/{pid}/types", {"volume_type": {"name": "shared"}}, format="json"
        ).status_code
        == 409
    )
    assert (
        api.post(
            url("alpha", "types"), {"volume_type": {"name": "mine"}}, format="json"
        ).status_code
        == 403
    )
    listed = {t["name"] for t in api.get(url("alpha", "types")).json()["volume_types"]}
    assert listed == {"__DEFAULT__", "shared"}
    shown = api.get(url("alpha", f"types/{type_id}")).json()["volume_type"]
    assert shown["extra_specs"] == {"multiattach": "<is> True"}
    assert api.get(url("alpha", "types/shared")).status_code == 404  # by id only
    assert api.get(url("alpha", "types/default")).json()["volume_type"]["name"] == "__DEFAULT__"
    volume = create(api, {"size": 1, "volume_type": "shared"}).json()["volume"]
    assert volume["multiattach"] is True and volume["volume_type"] == "shared"
    refused = admin_api.delete(f"/volume/v3/{pid}/types/{type_id}")
    assert refused.status_code == 400
    assert VolumeType.objects.filter(name="shared").exists()


def test_admins_see_hosts_and_every_project_only_when_asked(api, admin_api):
    volume_id = _available(api)
    pid = _pid("admin")
    own = admin_api.get(f"/volume/v3/{pid}/volumes/detail", **V3).json()["volumes"]
    assert own == []
    every = admin_api.get(f"/volume/v3/{pid}/volumes/detail?all_tenants=1", **V3).json()["volumes"]
    assert [v["id"] for v in every] == [volume_id]
    assert every[0]["os-vol-host-attr:host"] == "file@file#file"
    assert api.get(url("alpha", "volumes?all_tenants=1")).status_code == 403
    assert api.get(url("alpha", "os-services")).status_code == 403
    assert admin_api.get(f"/volume/v3/{pid}/os-services").json() == {"services": []}


def test_a_listing_makes_the_same_queries_for_ten_volumes_as_for_one(api):
    _available(api)
    with CaptureQueriesContext(connection) as one:
        api.get(url("alpha", "volumes/detail"), **V3)
    for _ in range(9):
        _available(api)
    with CaptureQueriesContext(connection) as ten:
        response = api.get(url("alpha", "volumes/detail"), **V3)
    assert len(response.json()["volumes"]) == 10
    assert len(ten) == len(one)


def test_pagination_by_marker(api):
    ids = [_available(api) for _ in range(3)]
    first = api.get(url("alpha", "volumes?limit=2")).json()
    assert len(first["volumes"]) == 2 and "volumes_links" in first
    marker = first["volumes"][-1]["id"]
    rest = api.get(url("alpha", f"volumes?limit=2&marker={marker}")).json()
    assert {v["id"] for v in first["volumes"] + rest["volumes"]} == set(ids)
    assert api.get(url("alpha", "volumes?marker=nope")).status_code == 404
    assert api.get(url("alpha", "volumes?sort=bogus")).status_code == 400
    assert api.get(url("alpha", "volumes?limit=x")).status_code == 400


def test_microversions_out_of_range_are_406(api):
    response = api.get(url("alpha", "volumes"), HTTP_OPENSTACK_API_VERSION="volume 3.99")
    assert response.status_code == 406
    assert (
        api.get(url("alpha", "volumes"), HTTP_OPENSTACK_API_VERSION="volume x").status_code == 400
    )
    plain = api.get(url("alpha", "volumes/detail"))
    assert plain["OpenStack-API-Version"] == "volume 3.0"


def test_the_admin_lists_volumes_attachments_and_backends_with_usage(api, client, admin_user):
    from django.utils import timezone

    from cloud.volumes.models import VolumeBackend

    VolumeBackend.objects.create(
        name="file",
        host="vol-1",
        driver="file",
        total_capacity_gb=100,
        free_capacity_gb=90,
        last_seen=timezone.now(),
    )
    _available(api, 3)
    client.force_login(admin_user)
    page = client.get("/admin/volumes/volumebackend/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "vol-1" in text and ">3<" in text and ">up<" in text
    for model in ("volume", "volumeattachment", "volumesnapshot", "volumetype"):
        assert client.get(f"/admin/volumes/{model}/").status_code == 200
    volume = Volume.objects.get()
    assert client.get(f"/admin/volumes/volume/{volume.pk}/change/").status_code == 200
