"""os-volume_attachments on the database alone: Nova's shapes (2.89: attachment_id and
bdm_uuid, no id), the device chosen, and every refusal a clear 4xx with nothing written
(attach in-use, detach not attached, bad device, another project's volume or server,
a host too old, a server busy); `volumes_attached` in server show; a deleted server's
volumes detached and the delete_on_termination ones deleted."""

import uuid

import pytest

from cloud.hosts.models import ComputeNode
from cloud.instances.models import Instance, InstanceAction
from cloud.volumes.models import Volume, VolumeAttachment
from cloud.volumes.types import volume_type_default
from tests.helpers import casts, create_server

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
V279 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.79"}


def _volume(project_id: str, *, status: str = "available", multiattach: bool = False) -> Volume:
    return Volume.objects.create(
        project_id=project_id,
        user_id="u-1",
        size=1,
        status=status,
        volume_type=volume_type_default(),
        multiattach=multiattach,
        backend="file",
        provider_location=f"/srv/volumes/{uuid.uuid4()}",
    )


@pytest.fixture
def server(api):
    created = create_server(api, "vm")
    Instance.objects.filter(uuid=created["id"]).update(
        vm_state="active", task_state=None, host="h1", node="h1"
    )
    return Instance.objects.get(uuid=created["id"])


def _attach(client, server_id, volume_id, headers=LATEST, **extra):
    body = {"volumeAttachment": {"volumeId": str(volume_id), **extra}}
    return client.post(
        f"{V}/servers/{server_id}/os-volume_attachments", body, format="json", **headers
    )


def _nothing_written(volume: Volume, status: str = "available") -> None:
    assert Volume.objects.get(pk=volume.pk).status == status
    assert not VolumeAttachment.objects.filter(volume=volume).exists()


def test_attach_answers_nova_s_shape_and_reserves_the_volume(
    api, server, django_capture_on_commit_callbacks
):
    volume = _volume(server.project_id)
    with django_capture_on_commit_callbacks() as sent:
        response = _attach(api, server.uuid, volume.pk, delete_on_termination=True)
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "volumeAttachment": {
            "id": str(volume.pk),
            "serverId": str(server.uuid),
            "volumeId": str(volume.pk),
            "device": "/dev/vdb",
            "tag": None,
            "delete_on_termination": True,
        }
    }
    attachment = VolumeAttachment.objects.get(volume=volume)
    assert (attachment.status, attachment.host, attachment.device) == (
        "attaching",
        "h1",
        "/dev/vdb",
    )
    assert Volume.objects.get(pk=volume.pk).status == "attaching"
    assert len(casts(sent)) == 1  # the volume worker is asked for the connection
    assert InstanceAction.objects.filter(instance_uuid=server.uuid, action="attach_volume").exists()

    listed = api.get(f"{V}/servers/{server.uuid}/os-volume_attachments", **LATEST).json()
    assert listed == {
        "volumeAttachments": [
            {
                "volumeId": str(volume.pk),
                "serverId": str(server.uuid),
                "device": "/dev/vdb",
                "tag": None,
                "delete_on_termination": True,
                "attachment_id": str(attachment.pk),
                "bdm_uuid": str(attachment.pk),
            }
        ]
    }
    old = api.get(f"{V}/servers/{server.uuid}/os-volume_attachments/{volume.pk}").json()
    assert old["volumeAttachment"]["id"] == str(volume.pk)
    assert "attachment_id" not in old["volumeAttachment"]
    shown = api.get(f"{V}/servers/{server.uuid}", **LATEST).json()["server"]
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": str(volume.pk), "delete_on_termination": True}
    ]
    detail = api.get(f"{V}/servers/detail").json()["servers"][0]
    assert detail["os-extended-volumes:volumes_attached"] == [{"id": str(volume.pk)}]


def test_the_next_device_follows_the_flavor_s_disks_and_other_volumes(api, server):
    Instance.objects.filter(pk=server.pk).update(
        flavor={**server.flavor, "ephemeral_gb": 1, "swap": 512}
    )
    first, second = _volume(server.project_id), _volume(server.project_id)
    assert _attach(api, server.uuid, first.pk).json()["volumeAttachment"]["device"] == "/dev/vdd"
    assert _attach(api, server.uuid, second.pk).json()["volumeAttachment"]["device"] == "/dev/vde"


def test_a_volume_in_use_is_a_409_and_changes_nothing(api, server):
    volume = _volume(server.project_id)
    assert _attach(api, server.uuid, volume.pk).status_code == 200
    other = create_server(api, "vm-2")
    Instance.objects.filter(uuid=other["id"]).update(vm_state="active", task_state=None, host="h1")

    response = _attach(api, other["id"], volume.pk)

    assert response.status_code == 409, response.json()
    assert "conflictingRequest" in response.json()
    assert VolumeAttachment.objects.filter(volume=volume).count() == 1
    assert not InstanceAction.objects.filter(instance_uuid=other["id"], action="attach_volume")


@pytest.mark.parametrize("device", ["/dev/sda", "vdb1", "/dev/vda/../vdb", "x" * 300, 7])
def test_a_bad_device_is_a_400_and_nothing_is_written(api, server, device):
    volume = _volume(server.project_id)
    response = _attach(api, server.uuid, volume.pk, device=device)
    assert response.status_code == 400, response.json()
    assert "badRequest" in response.json()
    _nothing_written(volume)


def test_a_device_in_use_is_a_409(api, server):
    volume, other = _volume(server.project_id), _volume(server.project_id)
    assert _attach(api, server.uuid, volume.pk, device="/dev/vdc").status_code == 200
    response = _attach(api, server.uuid, other.pk, device="/dev/vdc")
    assert response.status_code == 409, response.json()
    _nothing_written(other)


def test_another_project_s_volume_is_a_404(api, server):
    volume = _volume("someone-else")
    response = _attach(api, server.uuid, volume.pk)
    assert response.status_code == 404, response.json()
    assert "itemNotFound" in response.json()
    _nothing_written(volume)


def test_another_project_s_server_is_a_404(api, admin_api):
    theirs = create_server(admin_api, "theirs")
    Instance.objects.filter(uuid=theirs["id"]).update(vm_state="active", task_state=None, host="h1")
    volume = _volume("whoever")
    mine = _volume(Instance.objects.get(uuid=theirs["id"]).project_id)
    for volume_id in (volume.pk, mine.pk):
        assert _attach(api, theirs["id"], volume_id).status_code == 404
    assert api.get(f"{V}/servers/{theirs['id']}/os-volume_attachments").status_code == 404
    assert (
        api.delete(f"{V}/servers/{theirs['id']}/os-volume_attachments/{mine.pk}").status_code == 404
    )
    _nothing_written(mine)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"volumeAttachment": "x"},
        {"volumeAttachment": {}},
        {"volumeAttachment": {"volumeId": "not-a-uuid"}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "colour": "red"}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "delete_on_termination": "maybe"}},
        {"volumeAttachment": {"volumeId": f"{uuid.uuid4()}\n"}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "device": None}, "extra": 1},
    ],
)
def test_a_malformed_body_is_a_400(api, server, body):
    response = api.post(
        f"{V}/servers/{server.uuid}/os-volume_attachments", body, format="json", **V279
    )
    assert response.status_code == 400, response.json()
    assert not VolumeAttachment.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"volumeAttachment": {}},
        {"volumeAttachment": {"volumeId": "x"}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "delete_on_termination": 3}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "device": "vdb"}},
    ],
)
def test_a_malformed_update_is_a_400(api, server, body):
    volume = _volume(server.project_id)
    assert _attach(api, server.uuid, volume.pk).status_code == 200
    url = f"{V}/servers/{server.uuid}/os-volume_attachments/{volume.pk}"
    response = api.put(url, body, format="json", **LATEST)
    assert response.status_code == 400, response.json()
    assert "badRequest" in response.json()
    assert VolumeAttachment.objects.get(volume=volume).delete_on_termination is False


def test_delete_on_termination_is_refused_before_2_79(api, server):
    volume = _volume(server.project_id)
    response = _attach(api, server.uuid, volume.pk, headers={}, delete_on_termination=True)
    assert response.status_code == 400
    _nothing_written(volume)


def test_a_busy_server_or_a_host_too_old_is_a_409(api, server):
    volume = _volume(server.project_id)
    Instance.objects.filter(pk=server.pk).update(task_state="rebooting")
    assert _attach(api, server.uuid, volume.pk).status_code == 409
    Instance.objects.filter(pk=server.pk).update(task_state=None)
    ComputeNode.objects.update_or_create(host="h1", defaults={"payload_version": "1.11"})
    response = _attach(api, server.uuid, volume.pk)
    assert response.status_code == 409 and "too old" in str(response.json())
    _nothing_written(volume)


def test_detach_of_a_volume_not_attached_is_a_404_and_attaching_a_409(api, server):
    volume = _volume(server.project_id)
    response = api.delete(f"{V}/servers/{server.uuid}/os-volume_attachments/{volume.pk}")
    assert response.status_code == 404, response.json()
    assert _attach(api, server.uuid, volume.pk).status_code == 200
    response = api.delete(f"{V}/servers/{server.uuid}/os-volume_attachments/{volume.pk}")
    assert response.status_code == 409, response.json()
    assert VolumeAttachment.objects.get(volume=volume).status == "attaching"
    bogus = api.delete(f"{V}/servers/{server.uuid}/os-volume_attachments/not-a-volume")
    assert bogus.status_code == 404


def test_detach_of_an_attached_volume_begins_it_and_tells_the_host(
    api, server, django_capture_on_commit_callbacks
):
    volume = _volume(server.project_id)
    assert _attach(api, server.uuid, volume.pk).status_code == 200
    VolumeAttachment.objects.filter(volume=volume).update(status="attached")
    Volume.objects.filter(pk=volume.pk).update(status="in-use")
    with django_capture_on_commit_callbacks() as sent:
        response = api.delete(f"{V}/servers/{server.uuid}/os-volume_attachments/{volume.pk}")
    assert response.status_code == 202
    assert VolumeAttachment.objects.get(volume=volume).status == "detaching"
    assert Volume.objects.get(pk=volume.pk).status == "detaching"
    assert len(casts(sent)) == 1  # compute.detach_volume


def test_swap_is_refused_and_delete_on_termination_changes_at_2_85(api, server):
    volume, other = _volume(server.project_id), _volume(server.project_id)
    assert _attach(api, server.uuid, volume.pk).status_code == 200
    url = f"{V}/servers/{server.uuid}/os-volume_attachments/{volume.pk}"
    swap = api.put(url, {"volumeAttachment": {"volumeId": str(other.pk)}}, format="json", **LATEST)
    assert swap.status_code in (400, 403), swap.json()
    update = api.put(
        url,
        {"volumeAttachment": {"volumeId": str(volume.pk), "delete_on_termination": True}},
        format="json",
        **LATEST,
    )
    assert update.status_code == 202, update.json()
    assert VolumeAttachment.objects.get(volume=volume).delete_on_termination is True
    _nothing_written(other)


def test_a_deleted_server_s_volumes_are_detached_and_the_marked_ones_deleted(api, server):
    kept, doomed = _volume(server.project_id), _volume(server.project_id)
    assert _attach(api, server.uuid, kept.pk).status_code == 200
    assert _attach(api, server.uuid, doomed.pk, delete_on_termination=True).status_code == 200
    VolumeAttachment.objects.update(status="attached")
    Volume.objects.update(status="in-use")
    Instance.objects.filter(pk=server.pk).update(host=None)  # no host: deleted here at once

    assert api.delete(f"{V}/servers/{server.uuid}").status_code == 204

    assert not VolumeAttachment.objects.exists()
    assert Volume.objects.get(pk=kept.pk).status == "available"
    assert Volume.objects.get(pk=doomed.pk).status == "deleting"
