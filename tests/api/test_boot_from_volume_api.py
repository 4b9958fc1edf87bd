"""POST /servers with a root volume made from an image (`openstack server create --image
IMG --boot-from-volume SIZE`: block_device_mapping_v2 source_type image, destination_type
volume), on the database alone: what OSC sends is taken (imageRef ""), the volume is
written (creating, not yet asked of its worker) with its /dev/vda attachment, the flavor's
disk is not claimed, `image` is ""; every bad input is a clear 4xx in Nova's shape with
no row written (no server, no volume); a server deleted before its host was chosen takes
its never-made volume with it."""

import pytest

from cloud.identity.models import Project
from cloud.images.models import Image
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, RequestSpec
from cloud.volumes.models import Volume, VolumeAttachment
from tests.helpers import casts

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
UNKNOWN = "5d7c1c8e-0000-4000-8000-0000000000ff"
GIB = 1 << 30


def _root(**changes) -> dict:
    """The mapping OSC sends for --boot-from-volume 1 (without --delete-on-termination)."""
    return {
        "uuid": TINY_IMAGE_ID,
        "boot_index": 0,
        "source_type": "image",
        "destination_type": "volume",
        "volume_size": 1,
        "delete_on_termination": False,
        **changes,
    }


def _create(client, *bdms, **extra):
    body = {
        "server": {
            "name": "bfv",
            "imageRef": "",
            "flavorRef": "1",
            "min_count": 1,
            "max_count": 1,
            "networks": "none",
            "block_device_mapping_v2": list(bdms) or [_root()],
            **extra,
        }
    }
    return client.post(f"{V}/servers", body, format="json", **LATEST)


def _error(response, code: int) -> str:
    assert response.status_code == code, response.content
    (body,) = response.json().values()
    assert body["code"] == code
    return body["message"]


def _nothing_written() -> None:
    assert not Instance.objects.exists() and not RequestSpec.objects.exists()
    assert not Volume.objects.exists() and not VolumeAttachment.objects.exists()


def _volume_quota(admin_api, api, **limits) -> None:
    pid = str(Project.objects.get(name="alpha").id)
    response = admin_api.put(
        f"/volume/v3/{pid}/os-quota-sets/{pid}", {"quota_set": limits}, format="json"
    )
    assert response.status_code == 200, response.content


def test_what_osc_sends_writes_the_server_and_its_volume_to_make(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        response = _create(api, _root(volume_size=2, delete_on_termination=True))
    assert response.status_code == 202, response.content
    server_id = response.json()["server"]["id"]
    assert len(casts(sent)) == 1  # the scheduler: the volume is made once a host is chosen

    instance = Instance.objects.get(uuid=server_id)
    assert instance.image_ref == "" and instance.image_meta["id"] == TINY_IMAGE_ID
    assert "DISK_GB" not in RequestSpec.objects.get(instance_uuid=server_id).resources
    volume = Volume.objects.get()
    assert (volume.status, volume.size, str(volume.image_id)) == ("creating", 2, TINY_IMAGE_ID)
    assert volume.bootable and volume.name == "" and volume.project_id == instance.project_id
    attachment = VolumeAttachment.objects.get(volume=volume)
    assert (attachment.status, attachment.device, attachment.host) == ("attaching", "/dev/vda", "")
    assert str(attachment.instance_uuid) == server_id and attachment.delete_on_termination

    shown = api.get(f"{V}/servers/{server_id}", **LATEST).json()["server"]
    assert shown["image"] == ""
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": str(volume.id), "delete_on_termination": True}
    ]


def test_the_image_may_be_named_by_imageref_too(api):
    response = _create(api, imageRef=TINY_IMAGE_ID)
    assert response.status_code == 202, response.content
    assert Volume.objects.get().status == "creating"


def test_each_of_several_servers_gets_a_volume_of_its_own(api):
    response = _create(api, min_count=2, max_count=2)
    assert response.status_code == 202, response.content
    attachments = VolumeAttachment.objects.all()
    assert len({a.instance_uuid for a in attachments}) == len({a.volume_id for a in attachments})
    assert Volume.objects.count() == 2 == Instance.objects.count()


@pytest.mark.parametrize(
    "bdm, message",
    [
        (_root(volume_size=None), "need to have a non-zero size specified"),
        (_root(volume_size=0), "volume_size"),
        ({k: v for k, v in _root().items() if k != "volume_size"}, "non-zero size"),
        (_root(uuid=UNKNOWN), f"failed to get image {UNKNOWN}"),
        (_root(uuid=None), "block_device_mapping_v2.uuid"),
        (_root(boot_index=1), "only the root volume"),
        (_root(source_type="snapshot"), "source_type snapshot is not supported"),
        (_root(source_type="blank"), "source_type blank is not supported"),
        (_root(volume_size=10**6), "larger than the largest volume"),
        (_root(volume_size="big"), "volume_size"),
    ],
)
def test_a_bad_mapping_is_a_400_and_writes_nothing(api, bdm, message):
    assert message in _error(_create(api, bdm), 400)
    _nothing_written()


def test_two_root_volumes_or_another_imageref_are_400s(api):
    assert "more than one root volume" in _error(_create(api, _root(), _root()), 400)
    other = _create(api, imageRef=UNKNOWN)
    assert "different image than imageRef" in _error(other, 400)
    _nothing_written()


@pytest.mark.parametrize(
    "image_changes, message",
    [
        (
            {"min_disk": 2},
            f"Volume size is {GIB} bytes, minimum size is {2 * GIB} bytes.",
        ),
        ({"virtual_size": 2 * GIB}, f"Volume size is {GIB} bytes, image is {2 * GIB} bytes."),
        ({"size": GIB + 1}, f"image is {GIB + 1} bytes."),
        ({"status": "deactivated"}, "is not active (status deactivated)"),
        ({"visibility": "private", "owner": "someone-else"}, "failed to get image"),
    ],
)
def test_an_image_the_volume_cannot_hold_or_use_is_a_400(api, image_changes, message):
    Image.objects.filter(pk=TINY_IMAGE_ID).update(**image_changes)
    assert message in _error(_create(api), 400)
    _nothing_written()


def test_a_flavor_smaller_than_the_image_is_no_matter_the_volume_holds_it(api):
    Image.objects.filter(pk=TINY_IMAGE_ID).update(min_disk=2)
    response = _create(api, _root(volume_size=2))  # m1.tiny: 1 GB of root disk
    assert response.status_code == 202, response.content


@pytest.mark.parametrize(
    "limits, count, message",
    [
        ({"volumes": 1}, 2, "Quota exceeded for volumes: Requested 2, but already used 0 of 1"),
        ({"gigabytes": 1}, 1, "Quota exceeded for gigabytes: Requested 2, but already used 0 of 1"),
    ],
)
def test_over_the_volume_quotas_is_a_403_in_nova_s_words(api, admin_api, limits, count, message):
    _volume_quota(admin_api, api, **limits)
    response = _create(api, _root(volume_size=2 // count), min_count=count, max_count=count)
    assert message in _error(response, 403)
    assert "forbidden" in response.json()
    _nothing_written()


def test_the_volume_quota_counts_the_volumes_already_there(api, admin_api):
    _volume_quota(admin_api, api, volumes=1)
    assert _create(api).status_code == 202
    response = _create(api)
    assert "already used 1 of 1 volumes" in _error(response, 403)
    assert Volume.objects.count() == 1 == Instance.objects.count()


@pytest.mark.parametrize("doomed", [True, False])
def test_a_server_deleted_before_its_host_takes_its_never_made_volume(api, doomed):
    response = _create(api, _root(delete_on_termination=doomed))
    server_id = response.json()["server"]["id"]
    assert api.delete(f"{V}/servers/{server_id}", **LATEST).status_code == 204
    assert not Volume.objects.exists() and not VolumeAttachment.objects.exists()
