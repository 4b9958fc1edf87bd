"""server_boot, the service behind POST /servers, on PostgreSQL: what a create request
names is checked there (400 in Nova's words), before any row is written, whoever calls it."""

import pytest
from django.utils import timezone

from cloud.api.errors import BadRequest
from cloud.hosts.models import ComputeNode
from cloud.identity import keypairs
from cloud.identity.context import RequestContext
from cloud.identity.models import Project, User
from cloud.images.models import Image
from cloud.instances.models import Instance, RequestSpec
from cloud.instances.services import ServerBoot, server_boot
from tests.helpers import casts

UNKNOWN = "5d7c1c8e-0000-4000-8000-0000000000ff"


@pytest.fixture
def context(seeded) -> RequestContext:
    return RequestContext(
        user_id=User.objects.get(username="alice").id,
        user_name="alice",
        project_id=Project.objects.get(name="alpha").id,
        project_name="alpha",
        roles=["member", "reader"],
    )


def _boot(context: RequestContext, **changes) -> list[Instance]:
    image_ref = str(Image.objects.get().id)
    return server_boot(
        context=context,
        request_id="req-boot",
        boot=ServerBoot(**{"name": "vm", "flavor_ref": "1", "image_ref": image_ref, **changes}),
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"image_ref": UNKNOWN}, f"Can not find requested image {UNKNOWN}"),
        ({"image_ref": None}, "imageRef is required"),
        (
            {"block_device_mapping": [{"source_type": "volume", "boot_index": 0}]},
            "Only a local root disk from an image",
        ),
        ({"flavor_ref": "nope"}, "Flavor nope could not be found."),
        ({"networks": [{"uuid": "net-1"}]}, "Network net-1 could not be found."),
        ({"host": "nowhere"}, "Compute host nowhere not found."),
        ({"availability_zone": "atlantis"}, "The requested availability zone is not available"),
        ({"group_id": UNKNOWN}, f"Instance group {UNKNOWN} could not be found."),
        ({"key_name": "missing"}, "Invalid key_name provided."),
    ],
)
def test_what_the_request_names_is_checked_before_any_write(context, changes, message):
    with pytest.raises(BadRequest, match=message):
        _boot(context, **changes)
    assert not Instance.objects.exists() and not RequestSpec.objects.exists()


def test_a_flavor_smaller_than_the_image_asks_is_refused(context):
    Image.objects.update(min_ram=4096)
    with pytest.raises(BadRequest, match=r"Flavor's memory is too small .*< 4096 MB"):
        _boot(context)
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    "image_changes, message",
    [
        ({"min_disk": 2}, r"Flavor's disk is too small .*\(1 GB < 2 GB\)"),
        (
            {"virtual_size": 2 * 1024**3},
            r"Flavor disk is 1073741824 bytes, image is 2147483648 bytes",
        ),
        ({"size": 1024**3 + 1}, r"Flavor disk is 1073741824 bytes, image is 1073741825 bytes"),
        ({"status": "queued"}, r"is not active \(status queued\)"),
        ({"status": "deactivated"}, r"is not active \(status deactivated\)"),
    ],
)
def test_an_image_the_flavor_cannot_hold_or_not_active_is_refused(context, image_changes, message):
    Image.objects.update(**image_changes)
    with pytest.raises(BadRequest, match=message):
        _boot(context)  # flavor 1, m1.tiny: a 1 GB root disk
    assert not Instance.objects.exists()


def test_what_the_request_names_reaches_the_instance(context, django_capture_on_commit_callbacks):
    keypair, _ = keypairs.keypair_generate(context=context, user_id=context.user_id, name="k")
    node = ComputeNode.objects.create(host="hv-1", last_seen_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as sent:
        [instance] = _boot(
            context, key_name="k", host="hv-1", availability_zone=node.availability_zone
        )
    assert len(casts(sent)) == 1  # conductor.build_instances, on commit
    assert instance.key_data == keypair.public_key
    spec = RequestSpec.objects.get(instance_uuid=instance.uuid)
    assert (spec.forced_host, spec.availability_zone) == ("hv-1", node.availability_zone)
