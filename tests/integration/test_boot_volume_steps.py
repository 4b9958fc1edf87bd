"""The conductor's steps of a boot from a volume made from an image, on PostgreSQL, the
messages they publish recorded (by task name), not sent: the volume is asked of its
worker once the host is chosen (once, whatever is redelivered), connected when made;
a failed create or a vanished image fails the build with a fault and frees its claim;
no valid host, or a server deleted before its host, takes the never-made volume with it;
a server deleted while its volume is made lets it go when made (deleted if marked
delete_on_termination); a reschedule connects the volume made to the next host."""

from unittest import mock

import pytest

from cloud.conductor import services
from cloud.hosts.models import ComputeNode
from cloud.identity.context import RequestContext
from cloud.identity.models import Project, User
from cloud.images.models import Image
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, InstanceFault
from cloud.instances.services import ServerBoot, server_boot, server_delete
from cloud.payloads import BuildFailure, SchedulerAnswer, VolumeResult
from cloud.placement.claims import allocations_claim_new_many
from cloud.placement.models import Allocation
from cloud.volumes.models import Volume, VolumeAttachment
from tests.integration.test_placement import _host

ROOT = {"VCPU": 1, "MEMORY_MB": 512}


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Run `step` and return the names of the tasks it sends after its commit."""

    def run(step, *args, **kwargs) -> list[str]:
        with (
            mock.patch("cloud.rpc.app.send_task") as send_task,
            django_capture_on_commit_callbacks(execute=True),
        ):
            step(*args, **kwargs)
        return [c.args[0] for c in send_task.call_args_list]

    return run


@pytest.fixture
def context(seeded):
    return RequestContext(
        user_id=User.objects.get(username="alice").id,
        user_name="alice",
        project_id=Project.objects.get(name="alpha").id,
        project_name="alpha",
        roles=["member", "reader"],
    )


def _boot(context, sent, doomed: bool = False) -> tuple[Instance, Volume]:
    bdm = {
        "uuid": TINY_IMAGE_ID,
        "boot_index": 0,
        "source_type": "image",
        "destination_type": "volume",
        "volume_size": 1,
        "delete_on_termination": doomed,
    }
    boot = ServerBoot(name="bfv", flavor_ref="1", image_ref="", block_device_mapping=[bdm])
    found: list[Instance] = []
    assert sent(lambda: found.extend(server_boot(context=context, request_id="r", boot=boot))) == [
        "scheduler.select_destinations"
    ]
    return found[0], Volume.objects.get()


def _scheduled(instance, sent, host: str = "h1") -> list[str]:
    provider = _host(host, memory_mb=4096)
    allocations_claim_new_many([(str(instance.uuid), instance.project_id, provider.pk, ROOT)])
    return sent(
        services.schedule_done,
        selection=SchedulerAnswer(instance_uuid=str(instance.uuid), request_id="r", host=host),
    )


def _made(volume, **changes) -> VolumeResult:
    fields = {"provider_location": f"/srv/volumes/volume-{volume.pk}", "size": 1, **changes}
    return VolumeResult(volume_id=str(volume.pk), backend=volume.backend, **fields)


def _status(volume) -> str | None:
    return Volume.objects.filter(pk=volume.pk).values_list("status", flat=True).first()


def test_the_volume_is_asked_for_once_the_host_is_chosen_and_connected_when_made(context, sent):
    instance, volume = _boot(context, sent)
    assert _scheduled(instance, sent) == ["volume.create_volume"]
    attachment = VolumeAttachment.objects.get(volume=volume)
    assert attachment.host == "h1" and _status(volume) == "creating"

    assert sent(services.volume_created, result=_made(volume)) == ["volume.initialize_connection"]
    assert _status(volume) == "attaching"
    # Redelivered: the volume moved on, nothing is asked again.
    assert sent(services.volume_created, result=_made(volume)) == []
    assert Instance.objects.get(pk=instance.pk).vm_state == "building"


def test_a_failed_create_fails_the_build_with_its_reason_and_frees_the_claim(context, sent):
    instance, volume = _boot(context, sent, doomed=True)
    _scheduled(instance, sent)
    reason = f"Volume {volume.pk} could not be created: image tiny: download failed"
    assert sent(services.volume_created, result=_made(volume, error=reason)) == [
        "volume.terminate_connection",
        "volume.delete_volume",  # delete_on_termination: it goes with the failed build
    ]
    failed = Instance.objects.get(pk=instance.pk)
    assert (failed.vm_state, failed.task_state) == ("error", None)
    fault = InstanceFault.objects.get(instance_uuid=instance.uuid)
    assert fault.message == f"Build of instance {instance.uuid} aborted: {reason}"
    assert not Allocation.objects.filter(consumer_id=str(instance.uuid)).exists()
    assert _status(volume) == "deleting" and not VolumeAttachment.objects.exists()


def test_a_failed_create_keeps_the_volume_not_marked_delete_on_termination(context, sent):
    instance, volume = _boot(context, sent)
    _scheduled(instance, sent)
    sent(services.volume_created, result=_made(volume, error="no space left"))
    assert _status(volume) == "error" and Volume.objects.get(pk=volume.pk).fault == "no space left"
    assert Instance.objects.get(pk=instance.pk).vm_state == "error"


def test_an_image_gone_before_the_host_is_chosen_fails_the_build(context, sent):
    instance, volume = _boot(context, sent)
    Image.objects.filter(pk=TINY_IMAGE_ID).update(status="deactivated")
    assert _scheduled(instance, sent) == []
    assert Instance.objects.get(pk=instance.pk).vm_state == "error"
    assert "is no longer active" in InstanceFault.objects.get(instance_uuid=instance.uuid).message
    assert _status(volume) == "error"
    assert not Allocation.objects.filter(consumer_id=str(instance.uuid)).exists()


def test_no_valid_host_takes_the_never_made_volume_with_it(context, sent):
    instance, volume = _boot(context, sent)
    sent(
        services.schedule_done,
        selection=SchedulerAnswer(
            instance_uuid=str(instance.uuid), request_id="r", error="No valid host was found."
        ),
    )
    assert Instance.objects.get(pk=instance.pk).vm_state == "error"
    assert _status(volume) is None and not VolumeAttachment.objects.exists()


@pytest.mark.parametrize("doomed, after", [(False, "available"), (True, "deleting")])
def test_a_server_deleted_while_its_volume_is_made_lets_it_go_when_made(
    context, sent, doomed, after
):
    instance, volume = _boot(context, sent, doomed=doomed)
    _scheduled(instance, sent)
    # The host is down (no heartbeat): the delete is local, the volume still being made.
    ComputeNode.objects.update(last_seen_at="2000-01-01T00:00:00Z")
    server_delete(context=context, request_id="r-del", instance=instance)
    assert _status(volume) == "creating" and VolumeAttachment.objects.exists()

    sent(services.volume_created, result=_made(volume))
    assert _status(volume) == after and not VolumeAttachment.objects.exists()


def test_a_reschedule_connects_the_made_volume_to_the_next_host(context, sent, settings):
    settings.SCHEDULER_MAX_ATTEMPTS = 2
    instance, volume = _boot(context, sent)
    _scheduled(instance, sent)
    sent(services.volume_created, result=_made(volume))
    failure = BuildFailure(
        instance_uuid=str(instance.uuid), host="h1", request_id="r", attempt=1, message="no"
    )
    assert sent(services.build_failed, failure=failure) == ["scheduler.select_destinations"]
    assert _scheduled(instance, sent, "h2") == ["volume.initialize_connection"]
    assert VolumeAttachment.objects.get(volume=volume).host == "h2"
    assert _status(volume) == "attaching"
