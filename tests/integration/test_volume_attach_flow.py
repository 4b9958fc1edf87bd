"""Attach and detach end to end with real workers: the compute API reserves, the volume
worker (file backend) exports, the compute host (libvirt's test driver: the persistent
definition) connects, the conductor writes each report; diagnostics show the disk.
A deleted server's delete_on_termination volume goes with it; an attach whose volume
worker died half-way is ended by the reaper (the volume available, with a fault)."""

import pytest

from cloud.conductor.volumes import volumes_reap
from cloud.identity.models import Project
from cloud.images.models import Image
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import InstanceAction
from cloud.placement.models import Allocation
from cloud.volumes.models import Volume, VolumeAttachment
from tests.helpers import create_server, wait_status
from tests.integration.conftest import wait_for

V = "/compute/v2.1"
VOLUME_WORKER = "volume-file"


@pytest.fixture(scope="module")
def volume_worker(workers):
    """The file backend's volume worker (queue volume.file), for this module's tests."""
    workers.start_volume("file")
    yield workers
    workers.stop_one(VOLUME_WORKER)


def _create_volume(client, project_id: str, **extra) -> str:
    response = client.post(
        f"/volume/v3/{project_id}/volumes", {"volume": {"size": 1, **extra}}, format="json"
    )
    assert response.status_code == 202, response.content
    volume_id = response.json()["volume"]["id"]
    wait_for(
        lambda: Volume.objects.filter(pk=volume_id, status="available").exists(),
        30,
        message="volume available",
    )
    return volume_id


def _status(volume_id: str) -> str | None:
    return Volume.objects.filter(pk=volume_id).values_list("status", flat=True).first()


def _disks(admin_client, server_id: str) -> list[str]:
    response = admin_client.get(f"{V}/servers/{server_id}/diagnostics")
    assert response.status_code == 200, response.content
    return [d["device"] for d in response.json()["disk_details"]]


def _server(member_client) -> tuple[str, str]:
    server = create_server(member_client, "vol-vm")
    wait_status(member_client, server["id"], {"ACTIVE"})
    project_id = member_client.get(f"{V}/servers/{server['id']}").json()["server"]["tenant_id"]
    return server["id"], project_id


def test_attach_and_detach_through_the_volume_worker_and_the_host(
    volume_worker, member_client, admin_client
):
    server_id, project_id = _server(member_client)
    volume_id = _create_volume(member_client, project_id)

    response = member_client.post(
        f"{V}/servers/{server_id}/os-volume_attachments",
        {"volumeAttachment": {"volumeId": volume_id}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["volumeAttachment"]["device"] == "/dev/vdb"
    wait_for(lambda: _status(volume_id) == "in-use", 30, message="volume in-use")
    attachment = VolumeAttachment.objects.get(volume_id=volume_id)
    assert attachment.status == "attached" and attachment.device == "/dev/vdb"
    assert attachment.connection_info["driver_volume_type"] == "file"
    assert _disks(admin_client, server_id) == ["vda", "vdb"]
    action = InstanceAction.objects.get(instance_uuid=server_id, action="attach_volume")
    assert [(e.event, e.result) for e in action.events.all()] == [
        ("compute_attach_volume", "Success")
    ]
    listed = member_client.get(f"{V}/servers/{server_id}/os-volume_attachments").json()
    assert [a["attachment_id"] for a in listed["volumeAttachments"]] == [str(attachment.pk)]

    response = member_client.delete(f"{V}/servers/{server_id}/os-volume_attachments/{volume_id}")
    assert response.status_code == 202, response.content
    wait_for(lambda: _status(volume_id) == "available", 30, message="volume available")
    assert not VolumeAttachment.objects.filter(volume_id=volume_id).exists()
    assert _disks(admin_client, server_id) == ["vda"]

    member_client.delete(f"{V}/servers/{server_id}")
    wait_for(
        lambda: member_client.get(f"{V}/servers/{server_id}").status_code == 404,
        30,
        message="deleted",
    )


def test_a_deleted_server_takes_its_delete_on_termination_volume(volume_worker, member_client):
    server_id, project_id = _server(member_client)
    kept, doomed = (
        _create_volume(member_client, project_id),
        _create_volume(member_client, project_id),
    )
    for volume_id, doomed_too in ((kept, False), (doomed, True)):
        response = member_client.post(
            f"{V}/servers/{server_id}/os-volume_attachments",
            {"volumeAttachment": {"volumeId": volume_id, "delete_on_termination": doomed_too}},
            format="json",
        )
        assert response.status_code == 200, response.content
        wait_for(lambda v=volume_id: _status(v) == "in-use", 30, message="in-use")

    member_client.delete(f"{V}/servers/{server_id}")

    wait_for(lambda: _status(doomed) is None, 30, message="the marked volume deleted")
    wait_for(lambda: _status(kept) == "available", 30, message="the other one available")


def test_an_attach_whose_volume_worker_died_is_reaped_to_available(volume_worker, member_client):
    server_id, project_id = _server(member_client)
    volume_id = _create_volume(member_client, project_id)
    volume_worker.stop_one(VOLUME_WORKER)
    try:
        response = member_client.post(
            f"{V}/servers/{server_id}/os-volume_attachments",
            {"volumeAttachment": {"volumeId": volume_id}},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert _status(volume_id) == "attaching"

        assert volumes_reap(deadline=0) == 1

        volume = Volume.objects.get(pk=volume_id)
        assert volume.status == "available" and "timed out" in volume.fault
        assert not VolumeAttachment.objects.filter(volume_id=volume_id).exists()
    finally:
        volume_worker.start_volume("file")
    member_client.delete(f"{V}/servers/{server_id}")


def test_a_server_boots_from_a_volume_made_from_an_image(
    volume_worker, member_client, admin_client
):
    project_id = str(Project.objects.get(name="alpha").id)
    volume_id = _create_volume(member_client, project_id, imageRef=TINY_IMAGE_ID)
    body = {
        "server": {
            "name": "bfv",
            "imageRef": "",
            "flavorRef": "1",
            "networks": "none",
            "block_device_mapping_v2": [
                {"uuid": volume_id, "boot_index": 0, "source_type": "volume",
                 "destination_type": "volume"}
            ],
        }
    }  # fmt: skip
    response = member_client.post(f"{V}/servers", body, format="json")
    assert response.status_code == 202, response.content
    server_id = response.json()["server"]["id"]
    server = wait_status(member_client, server_id, {"ACTIVE"})
    assert server["image"] == ""
    assert server["os-extended-volumes:volumes_attached"] == [
        {"id": volume_id, "delete_on_termination": False}
    ]
    assert _status(volume_id) == "in-use"
    response = admin_client.get(f"{V}/servers/{server_id}/diagnostics")
    [root] = response.json()["disk_details"]
    assert root["device"] == "vda" and volume_id in root.get("path", "")
    claimed = {a.resource_class: a.used for a in Allocation.objects.filter(consumer_id=server_id)}
    assert "DISK_GB" not in claimed  # m1.tiny's only disk is its root: the volume

    member_client.delete(f"{V}/servers/{server_id}")
    wait_for(lambda: _status(volume_id) == "available", 30, message="the root volume freed")


def _boot_from_image(member_client, *, size: int = 1, doomed: bool = False) -> str:
    """What `openstack server create --image IMG --boot-from-volume SIZE` sends."""
    body = {
        "server": {
            "name": "bfv-image",
            "imageRef": "",
            "flavorRef": "1",
            "min_count": 1,
            "max_count": 1,
            "networks": "none",
            "block_device_mapping_v2": [
                {"uuid": TINY_IMAGE_ID, "boot_index": 0, "source_type": "image",
                 "destination_type": "volume", "volume_size": size,
                 "delete_on_termination": doomed}
            ],
        }
    }  # fmt: skip
    response = member_client.post(f"{V}/servers", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def _root_volume_of(server_id: str) -> str:
    return str(VolumeAttachment.objects.get(instance_uuid=server_id, device="/dev/vda").volume_id)


def _gone(member_client, server_id: str) -> None:
    member_client.delete(f"{V}/servers/{server_id}")
    wait_for(
        lambda: member_client.get(f"{V}/servers/{server_id}").status_code == 404,
        30,
        message="deleted",
    )


@pytest.mark.parametrize("doomed", [False, True])
def test_a_server_boots_from_a_volume_it_has_made_from_an_image(
    volume_worker, member_client, admin_client, doomed
):
    server_id = _boot_from_image(member_client, size=2, doomed=doomed)
    volume_id = _root_volume_of(server_id)
    server = wait_status(member_client, server_id, {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["image"] == ""
    assert server["os-extended-volumes:volumes_attached"] == [
        {"id": volume_id, "delete_on_termination": doomed}
    ]
    volume = Volume.objects.get(pk=volume_id)
    assert (volume.status, volume.size, str(volume.image_id)) == ("in-use", 2, TINY_IMAGE_ID)
    assert volume.provider_location  # the worker made its data
    [root] = admin_client.get(f"{V}/servers/{server_id}/diagnostics").json()["disk_details"]
    assert root["device"] == "vda" and volume_id in root.get("path", "")
    claimed = {a.resource_class: a.used for a in Allocation.objects.filter(consumer_id=server_id)}
    assert "DISK_GB" not in claimed

    _gone(member_client, server_id)
    if doomed:
        wait_for(lambda: _status(volume_id) is None, 30, message="the root volume deleted")
    else:
        wait_for(lambda: _status(volume_id) == "available", 30, message="the root volume kept")


def test_a_volume_that_cannot_be_made_fails_the_build_and_frees_its_claim(
    volume_worker, member_client
):
    image = Image.objects.get(pk=TINY_IMAGE_ID)
    # The worker fetches the image and checks its hash: a wrong one (or no data to
    # fetch, for the seeded image that has none) fails the create.
    Image.objects.filter(pk=image.pk).update(os_hash_algo="sha512", os_hash_value="0" * 128)
    try:
        server_id = _boot_from_image(member_client, doomed=True)
        volume_id = _root_volume_of(server_id)
        server = wait_status(member_client, server_id, {"ACTIVE", "ERROR"})
    finally:
        Image.objects.filter(pk=image.pk).update(
            os_hash_algo=image.os_hash_algo, os_hash_value=image.os_hash_value
        )
    assert server["status"] == "ERROR"
    assert f"Volume {volume_id} could not be created" in server["fault"]["message"]
    assert not Allocation.objects.filter(consumer_id=server_id).exists()
    # delete_on_termination: the volume made for it goes with the build it failed.
    wait_for(lambda: _status(volume_id) is None, 30, message="the failed volume deleted")
    assert not VolumeAttachment.objects.filter(instance_uuid=server_id).exists()
    _gone(member_client, server_id)
