"""Rolling upgrade: this control plane (payload version N) works with a compute worker
pinned to N-1. The pinned worker announces N-1 in its heartbeats, writes N-1, and
refuses anything newer (as the older code would not read it); the control plane
builds every message for it in N-1, so boot, reboot and delete go through it. An
action whose message is newer than the host speaks is a 409, and nothing is written.
"""

import os
import signal
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from cloud.hosts.models import ComputeNode
from cloud.identity.models import Project
from cloud.images.models import Image
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, InstanceAction
from cloud.payloads import (
    PAYLOAD_VERSION,
    RebuildRequest,
    TerminateRequest,
)
from cloud.rpc import HostTooOld, call_compute, cast_compute
from tests.helpers import create_server, show, wait_gone, wait_status
from tests.integration.conftest import HEARTBEAT, _host_xml, heartbeats_handled, wait_for

OLD_HOST = "itest-old"
# The last version before guests got image data (1.7); 1.8 (consoles) and 1.9
# (networks) only add fields an older host ignores, so 1.6 is the oldest host to hold.
OLD = "1.6"
V21 = "/compute/v2.1/servers"


@pytest.fixture
def old_compute(cloud):
    """A compute worker one payload version behind, for this test only."""
    cloud.start_compute(
        OLD_HOST, _host_xml(cloud.logdir, OLD_HOST, 2048), COMPUTE_PAYLOAD_VERSION=OLD
    )
    try:
        node = wait_for(
            lambda: ComputeNode.objects.filter(host=OLD_HOST).first(),
            20,
            message=f"{OLD_HOST} reported in; dead workers: {cloud.dead()}",
        )
        yield node
    finally:
        proc = cloud.procs.pop(OLD_HOST)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        # Its last heartbeats handled now, none can bring its row back after this test.
        heartbeats_handled()


def test_a_compute_one_version_behind_boots_reboots_and_deletes(admin_client, old_compute):
    assert OLD != PAYLOAD_VERSION
    assert old_compute.payload_version == OLD

    created = create_server(admin_client, "old-host-vm", availability_zone=f"nova:{OLD_HOST}")
    server = wait_status(admin_client, created["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:host"] == OLD_HOST

    response = admin_client.post(
        f"{V21}/{created['id']}/action", {"reboot": {"type": "SOFT"}}, format="json"
    )
    assert response.status_code == 202, response.content
    wait_for(
        lambda: (
            (s := show(admin_client, created["id"]))
            and s["status"] == "ACTIVE"
            and s["OS-EXT-STS:task_state"] is None
        ),
        30,
        message="reboot done on the old host",
    )
    reboot = InstanceAction.objects.get(instance_uuid=created["id"], action="reboot")
    assert [(e.event, e.result) for e in reboot.events.all()] == [
        ("compute_reboot_instance", "Success")
    ]
    assert created["id"] in call_compute(OLD_HOST, "compute.list_instances", timeout=10)

    assert admin_client.delete(f"{V21}/{created['id']}").status_code == 204
    wait_gone(admin_client, created["id"])
    assert created["id"] not in call_compute(OLD_HOST, "compute.list_instances", timeout=10)
    # Still speaking its version: nothing it could not read was sent to it.
    old_compute.refresh_from_db()
    assert old_compute.payload_version == OLD
    assert old_compute.last_seen_at > timezone.now() - timedelta(seconds=5 * HEARTBEAT)


def test_a_compute_one_version_behind_boots_an_image_with_data_and_refuses_snapshots(
    admin_client, old_compute
):
    """A 1.6 host ignores the image download fields (its guest gets an empty root disk, as
    that version did); createImage on it is a 409 (1.6 wrote snapshots to a shared path
    that is gone), and nothing is written."""
    created = admin_client.post(
        "/image/v2/images",
        {"name": "with-data", "disk_format": "raw", "container_format": "bare"},
        format="json",
    )
    image_id = created.json()["id"]
    uploaded = admin_client.put(
        f"/image/v2/images/{image_id}/file",
        data=bytes(1 << 20),
        content_type="application/octet-stream",
    )
    assert uploaded.status_code == 204, uploaded.content
    server = create_server(
        admin_client, "old-image-vm", imageRef=image_id, availability_zone=f"nova:{OLD_HOST}"
    )
    shown = wait_status(admin_client, server["id"], {"ACTIVE", "ERROR"})
    assert shown["status"] == "ACTIVE", shown.get("fault")

    response = admin_client.post(
        f"{V21}/{server['id']}/action", {"createImage": {"name": "old-snap"}}, format="json"
    )
    assert response.status_code == 409, response.content
    assert "needs 1.7" in response.json()["conflictingRequest"]["message"]
    assert not Image.objects.filter(name="old-snap").exists()
    assert admin_client.delete(f"{V21}/{server['id']}").status_code == 204
    wait_gone(admin_client, server["id"])


# -- the negotiation itself, on a host row (no worker needed) -------------------------


@pytest.fixture
def host_1_2(seeded):
    return ComputeNode.objects.create(
        host="cmp-1-2",
        payload_version="1.2",
        last_seen_at=timezone.now(),
    )


@pytest.fixture
def server_on_1_2(host_1_2):
    project = Project.objects.get(name="alpha")
    return Instance.objects.create(
        display_name="on-1-2",
        project_id=str(project.id),
        user_id="u",
        flavor={
            "flavorid": "1",
            "name": "m1.tiny",
            "memory_mb": 512,
            "vcpus": 1,
            "root_gb": 1,
            "ephemeral_gb": 0,
            "swap": 0,
            "extra_specs": {},
        },
        image_ref=TINY_IMAGE_ID,
        vm_state="active",
        power_state=1,
        host=host_1_2.host,
        node=host_1_2.host,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"rebuild": {"imageRef": TINY_IMAGE_ID}},
        {"createImage": {"name": "snap"}},
    ],
    ids=["rebuild", "createImage"],
)
def test_an_action_newer_than_the_host_speaks_is_a_409_with_nothing_written(
    api, server_on_1_2, body
):
    response = api.post(f"{V21}/{server_on_1_2.uuid}/action", body, format="json")

    assert response.status_code == 409, response.content
    message = response.json()["conflictingRequest"]["message"]
    assert "Compute host cmp-1-2 speaks payload version 1.2" in message
    assert "upgrade the host first" in message
    server_on_1_2.refresh_from_db()
    assert server_on_1_2.task_state is None
    assert not InstanceAction.objects.filter(instance_uuid=server_on_1_2.uuid).exists()
    assert not Image.objects.filter(name="snap").exists()


def test_messages_for_a_host_are_built_in_its_version(
    server_on_1_2, django_capture_on_commit_callbacks
):
    request = TerminateRequest(instance_uuid=str(server_on_1_2.uuid), name="i", request_id="r")
    with (
        mock.patch("cloud.rpc.app.send_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        cast_compute("cmp-1-2", "compute.terminate_instance", request)
    (wire,) = send.call_args.kwargs["args"]
    assert wire["version"] == "1.2"
    with pytest.raises(TypeError, match="pass the Payload"):
        cast_compute("cmp-1-2", "compute.terminate_instance", request.to_dict())
    rebuild = RebuildRequest(instance={}, request_id="r", action="rebuild", task_state="rebuilding")
    with pytest.raises(HostTooOld, match="too old"):
        cast_compute("cmp-1-2", "compute.rebuild_instance", rebuild)
