"""Rebuild, createImage and evacuate on the test hypervisor, through the API with real
workers: the guest destroyed and spawned again from a new image (the same domain
uuid, on the same host); createImage uploading the root disk to the image API;
an evacuation only from a host that is down, onto the other one, with the
allocation moved and a migration recorded."""

import pytest
from rest_framework.test import APIClient

from cloud.images.models import Image, ImageStatus, Visibility
from cloud.instances.models import Instance, InstanceAction, Migration
from cloud.placement.models import Allocation
from tests.helpers import create_server, show, wait_status
from tests.integration.conftest import HOSTS, wait_for

V21 = "/compute/v2.1/servers"


@pytest.fixture
def other_image(cloud) -> Image:
    return Image.objects.create(
        name="other",
        status=ImageStatus.ACTIVE,
        visibility=Visibility.PUBLIC,
        disk_format="qcow2",
        container_format="bare",
        properties={"os_distro": "busybox"},
    )


def _act(client: APIClient, server_id: str, body: dict):
    return client.post(f"{V21}/{server_id}/action", body, format="json", HTTP_ACCEPT="")


def _active(client: APIClient, name: str) -> dict:
    created = create_server(client, name)
    server = wait_status(client, created["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    return server


def _settled(client: APIClient, server_id: str, status: str) -> dict:
    wait_for(
        lambda: (
            (s := show(client, server_id))
            and s["status"] == status
            and s["OS-EXT-STS:task_state"] is None
        ),
        30,
        message=f"{server_id} settled in {status}",
    )
    return show(client, server_id)


def _events(server_id: str, action: str) -> list[tuple[str, str | None, str | None]]:
    record = InstanceAction.objects.get(instance_uuid=server_id, action=action)
    return [(e.event, e.result, e.host) for e in record.events.all()]


def test_rebuild_respawns_the_guest_from_the_new_image(member_client, admin_client, other_image):
    server = _active(member_client, "rebuild-me")
    uuid, host = server["id"], show(admin_client, server["id"])["OS-EXT-SRV-ATTR:host"]

    response = _act(
        member_client,
        uuid,
        {"rebuild": {"imageRef": str(other_image.id), "name": "rebuilt", "metadata": {"v": "2"}}},
    )

    assert response.status_code == 202, response.content
    shown = response.json()["server"]
    assert shown["status"] == "REBUILD"
    assert (shown["name"], shown["metadata"]) == ("rebuilt", {"v": "2"})
    assert shown["image"]["id"] == str(other_image.id)
    after = _settled(member_client, uuid, "ACTIVE")
    assert after["OS-EXT-STS:power_state"] == 1 and after["progress"] == 100
    assert after["image"]["id"] == str(other_image.id)
    assert show(admin_client, uuid)["OS-EXT-SRV-ATTR:host"] == host
    instance = Instance.objects.get(uuid=uuid)
    assert instance.image_meta["properties"] == {"os_distro": "busybox"}
    assert _events(uuid, "rebuild") == [("compute_rebuild_instance", "Success", host)]
    diagnostics = admin_client.get(f"{V21}/{uuid}/diagnostics")
    assert diagnostics.status_code == 200 and diagnostics.json()["state"] == "running"


def test_a_stopped_server_is_rebuilt_stopped(admin_client, other_image):
    server = _active(admin_client, "rebuild-stopped")
    uuid = server["id"]
    assert _act(admin_client, uuid, {"os-stop": None}).status_code == 202
    _settled(admin_client, uuid, "SHUTOFF")

    response = _act(admin_client, uuid, {"rebuild": {"imageRef": str(other_image.id)}})

    assert response.status_code == 202, response.content
    assert response.json()["server"]["status"] == "REBUILD"
    after = _settled(admin_client, uuid, "SHUTOFF")
    assert (after["OS-EXT-STS:vm_state"], after["OS-EXT-STS:power_state"]) == ("stopped", 4)
    assert admin_client.get(f"{V21}/{uuid}/diagnostics").json()["state"] == "shutdown"


def test_rebuild_refusals(member_client, admin_client, other_image):
    server = _active(member_client, "rebuild-refused")
    uuid = server["id"]
    for body in (
        {"rebuild": {}},
        {"rebuild": {"imageRef": str(other_image.id), "adminPass": "secret"}},
        {"rebuild": {"imageRef": "5b6f0000-0000-4000-8000-00000000dead"}},
        {"rebuild": {"imageRef": str(other_image.id), "name": ""}},
    ):
        response = _act(member_client, uuid, body)
        assert response.status_code == 400, (body, response.content)
    Image.objects.filter(pk=other_image.pk).update(status=ImageStatus.QUEUED)
    assert (
        _act(member_client, uuid, {"rebuild": {"imageRef": str(other_image.id)}}).status_code == 400
    )
    Image.objects.filter(pk=other_image.pk).update(status=ImageStatus.ACTIVE)

    assert _act(member_client, uuid, {"evacuate": {}}).status_code == 403  # admins only
    assert _act(admin_client, uuid, {"lock": None}).status_code == 202
    response = _act(member_client, uuid, {"rebuild": {"imageRef": str(other_image.id)}})
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"] == f"Instance {uuid} is locked"
    assert not InstanceAction.objects.filter(instance_uuid=uuid, action="rebuild").exists()


def test_create_image_uploads_the_disk_and_needs_a_name(member_client):
    # The test hypervisor's guests have real disk files (cloud.workers.virt.disks): the
    # snapshot is the root disk, uploaded by the host to the image API.
    server = _active(member_client, "snap-me")
    uuid = server["id"]
    assert _act(member_client, uuid, {"createImage": {"metadata": {}}}).status_code == 400

    response = _act(member_client, uuid, {"createImage": {"name": "snap", "metadata": {}}})

    assert response.status_code == 202, response.content
    image = Image.objects.get(name="snap")
    wait_for(
        lambda: Image.objects.get(pk=image.pk).status == ImageStatus.ACTIVE,
        60,
        message="the snapshot uploaded",
    )
    image.refresh_from_db()
    assert image.disk_format == "qcow2" and image.size and image.os_hash_value
    assert image.properties["instance_uuid"] == uuid
    assert _settled(member_client, uuid, "ACTIVE")["OS-EXT-STS:task_state"] is None


def _force_down(admin_client: APIClient, host: str, down: bool) -> None:
    services = admin_client.get("/compute/v2.1/os-services").json()["services"]
    (service,) = [s for s in services if s["host"] == host]
    response = admin_client.put(
        f"/compute/v2.1/os-services/{service['id']}", {"forced_down": down}, format="json"
    )
    assert response.status_code == 200, response.content


def test_evacuate_only_from_a_host_that_is_down(admin_client):
    server = _active(admin_client, "evacuee")
    uuid = server["id"]
    source = show(admin_client, uuid)["OS-EXT-SRV-ATTR:host"]
    (target,) = set(HOSTS) - {source}

    response = _act(admin_client, uuid, {"evacuate": {}})
    assert response.status_code == 409, response.content
    assert (
        "can only be evacuated from a host that is down"
        in (response.json()["conflictingRequest"]["message"])
    )

    _force_down(admin_client, source, True)
    try:
        for body, code in (
            ({"host": source}, 400),
            ({"host": "nowhere"}, 404),
            ({"adminPass": "x"}, 400),
        ):
            assert _act(admin_client, uuid, {"evacuate": body}).status_code == code, body
        response = _act(admin_client, uuid, {"evacuate": {"host": target}})
        assert response.status_code == 200, response.content
        after = _settled(admin_client, uuid, "ACTIVE")
    finally:
        _force_down(admin_client, source, False)

    assert after["OS-EXT-SRV-ATTR:host"] == target
    assert after["OS-EXT-STS:power_state"] == 1
    held = Allocation.objects.filter(consumer_id=uuid)
    assert {a.provider.name for a in held} == {target}
    migration = Migration.objects.get(instance_uuid=uuid)
    assert (migration.migration_type, migration.status) == ("evacuation", "done")
    assert (migration.source_compute, migration.dest_compute) == (source, target)
    assert not Allocation.objects.filter(consumer_id=str(migration.uuid)).exists()
    assert _events(uuid, "evacuate") == [
        ("conductor_evacuate_instance", "Success", target),
        ("compute_rebuild_instance", "Success", target),
    ]
