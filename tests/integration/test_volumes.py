"""Volumes with real volume workers (file and nbd backends, no database) and the
conductor: the data is made, grown, copied and removed on the backend; a volume from
an image holds the image's data (fetched with a transfer token); an attachment's
connection comes back through conductor.volume_connection_ready; a worker that is not
there leaves nothing in creating forever (the reaper)."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import redis

from cloud.conductor import volumes as conductor_volumes
from cloud.identity.context import RequestContext
from cloud.identity.models import Project
from cloud.instances.models import Instance
from cloud.volumes import services
from cloud.volumes.models import Volume, VolumeAttachment, VolumeBackend, VolumeSnapshot
from tests.integration.conftest import wait_for

GIB = 1 << 30
MARKER = b"stratus-volume-marker-7"


@pytest.fixture(scope="module")
def backends(workers):
    """The file and nbd volume workers, for this module's tests; their directories."""
    paths = {name: workers.start_volume(name) for name in ("file", "nbd")}
    yield paths
    for name in paths:
        workers.stop_one(f"volume-{name}")


@pytest.fixture
def volumes(cloud, backends, member_client, admin_client):
    wait_for(
        lambda: VolumeBackend.objects.filter(name__in=list(backends)).count() == 2,
        30,
        message=f"volume backends report; dead: {cloud.dead()}",
    )
    yield backends
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    wait_for(
        lambda: not any(broker.llen(f"volume.{b}") for b in backends),
        30,
        message="volume queues drained",
    )


def _url(route: str) -> str:
    return f"/volume/v3/{Project.objects.get(name='alpha').id}/{route}"


V3 = {"HTTP_OPENSTACK_API_VERSION": "volume 3.71"}


def _status(client, volume_id: str, wanted: set[str], timeout: float = 30) -> dict:
    def reached():
        body = client.get(_url(f"volumes/{volume_id}"), **V3).json()["volume"]
        return body if body["status"] in wanted else None

    return wait_for(reached, timeout, message=f"volume {volume_id} in {wanted}")


def _create(client, **body) -> dict:
    response = client.post(_url("volumes"), {"volume": body}, format="json", **V3)
    assert response.status_code == 202, response.content
    return response.json()["volume"]


def _info(target: str) -> dict:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", "-U", target],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return json.loads(out)


def _head(target: str, tmp_path: Path) -> bytes:
    out = tmp_path / "head.raw"
    subprocess.run(
        ["qemu-img", "dd", "-U", "-O", "raw", "bs=512", "count=1", f"if={target}", f"of={out}"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return out.read_bytes()[: len(MARKER)]


def _nbd_type(admin_client) -> str:
    pid = Project.objects.get(name="admin").id
    created = admin_client.post(
        f"/volume/v3/{pid}/types",
        {"volume_type": {"name": "remote", "extra_specs": {"volume_backend_name": "nbd"}}},
        format="json",
    )
    assert created.status_code == 200, created.content
    return "remote"


def test_a_volume_is_made_grown_snapshotted_copied_and_removed_on_the_backend(
    volumes, member_client
):
    volume = _create(member_client, size=1, name="data")
    shown = _status(member_client, volume["id"], {"available", "error"})
    assert shown["status"] == "available"
    row = Volume.objects.get(pk=volume["id"])
    path = Path(row.provider_location)
    assert path.parent == volumes["file"] and _info(str(path))["virtual-size"] == GIB
    action = _url(f"volumes/{volume['id']}/action")
    extended = member_client.post(action, {"os-extend": {"new_size": 2}}, format="json", **V3)
    assert extended.status_code == 202
    assert _status(member_client, volume["id"], {"available"})["size"] == 2
    assert _info(str(path))["virtual-size"] == 2 * GIB
    made = member_client.post(
        _url("snapshots"), {"snapshot": {"volume_id": volume["id"], "name": "s"}}, format="json"
    ).json()["snapshot"]
    wait_for(
        lambda: VolumeSnapshot.objects.get(pk=made["id"]).status == "available",
        30,
        message="snapshot available",
    )
    snapshot_path = Path(VolumeSnapshot.objects.get(pk=made["id"]).provider_location)
    assert snapshot_path.exists()
    copy = _create(member_client, snapshot_id=made["id"], size=3)
    assert _status(member_client, copy["id"], {"available", "error"})["status"] == "available"
    copy_path = Path(Volume.objects.get(pk=copy["id"]).provider_location)
    assert _info(str(copy_path))["virtual-size"] == 3 * GIB
    assert member_client.delete(_url(f"snapshots/{made['id']}")).status_code == 202
    wait_for(lambda: not VolumeSnapshot.objects.exists(), 30, message="snapshot gone")
    assert not snapshot_path.exists()
    for volume_id, data in ((volume["id"], path), (copy["id"], copy_path)):
        assert member_client.delete(_url(f"volumes/{volume_id}")).status_code == 202
        wait_for(
            lambda v=volume_id: not Volume.objects.filter(pk=v).exists(), 30, message="deleted"
        )
        assert not data.exists()
    backend = VolumeBackend.objects.get(name="file")
    assert backend.host == "vol-file" and backend.total_capacity_gb > 0


def test_a_volume_from_an_image_holds_its_data(volumes, member_client, admin_client, tmp_path):
    raw = tmp_path / "marker.raw"
    raw.write_bytes(MARKER + bytes((4 << 20) - len(MARKER)))
    image = admin_client.post(
        "/image/v2/images",
        {
            "name": "vol-src",
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public",
        },
        format="json",
    ).json()
    uploaded = admin_client.put(
        f"/image/v2/images/{image['id']}/file",
        data=raw.read_bytes(),
        content_type="application/octet-stream",
    )
    assert uploaded.status_code == 204, uploaded.content
    volume = _create(member_client, imageRef=image["id"], name="boot")
    shown = _status(member_client, volume["id"], {"available", "error"}, timeout=60)
    assert shown["status"] == "available", Volume.objects.get(pk=volume["id"]).fault
    assert shown["bootable"] == "true" and shown["size"] == 1
    path = Volume.objects.get(pk=volume["id"]).provider_location
    assert _head(path, tmp_path) == MARKER
    assert not list((volumes["file"] / ".incoming").glob("*.image"))


def _context(project: Project) -> RequestContext:
    return RequestContext(
        user_id="u",
        user_name="u",
        project_id=str(project.id),
        project_name=project.name,
        roles=["member", "reader"],
    )


def test_an_nbd_volume_is_exported_for_its_attachment_and_the_export_ends_with_it(
    volumes, member_client, admin_client, tmp_path
):
    volume = _create(member_client, size=1, volume_type=_nbd_type(admin_client))
    assert _status(member_client, volume["id"], {"available", "error"})["status"] == "available"
    assert Volume.objects.get(pk=volume["id"]).backend == "nbd"
    project = Project.objects.get(name="alpha")
    ctx = _context(project)
    # A server on a host that runs no worker: the conductor records the connection and
    # casts the attach to that host's queue, where nothing takes it; the host's part is
    # played below.
    server = Instance.objects.create(
        display_name="nbd-user",
        project_id=str(project.id),
        user_id="u",
        flavor={},
        host="nbd-only",
        vm_state="active",
    )
    attachment = services.reserve_attachment(ctx, volume["id"], str(server.uuid), "nbd-only")
    services.attachment_initialize(str(attachment.pk))

    def connected():
        row = VolumeAttachment.objects.get(pk=attachment.pk)
        return row.connection_info or None

    info = wait_for(connected, 30, message="connection info recorded")
    assert info["driver_volume_type"] == "nbd" and info["format"] == "raw"
    url = f"nbd://{info['host']}:{info['port']}/{info['export_name']}"
    assert _info(url)["virtual-size"] == GIB  # the compute's view: over the network
    services.attachment_connected(str(attachment.pk), "/dev/vdb", info)
    assert (
        _status(member_client, volume["id"], {"in-use"})["attachments"][0]["device"] == "/dev/vdb"
    )
    services.begin_detach(ctx, str(attachment.pk))
    services.detach_finished(str(attachment.pk))
    assert _status(member_client, volume["id"], {"available"})

    def export_gone():
        try:
            _info(url)
        except subprocess.CalledProcessError:
            return True
        return False

    wait_for(export_gone, 30, message="the NBD export stopped")
    assert member_client.delete(_url(f"volumes/{volume['id']}")).status_code == 202
    wait_for(lambda: not Volume.objects.filter(pk=volume["id"]).exists(), 30, message="deleted")


def test_a_connection_to_a_volume_without_data_fails_the_attachment(volumes, member_client):
    volume = _create(member_client, size=1)
    _status(member_client, volume["id"], {"available"})
    row = Volume.objects.get(pk=volume["id"])
    Path(row.provider_location).unlink()  # the data lost behind the service's back
    ctx = _context(Project.objects.get(name="alpha"))
    attachment = services.reserve_attachment(
        ctx, volume["id"], "5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b12", "itest-a"
    )
    services.attachment_initialize(str(attachment.pk))
    shown = _status(member_client, volume["id"], {"available"})
    assert shown["attachments"] == []
    assert "could not be connected" in Volume.objects.get(pk=volume["id"]).fault
    assert not VolumeAttachment.objects.exists()


def test_work_a_dead_worker_never_did_is_reaped_and_its_late_report_harms_nothing(
    volumes, workers, member_client
):
    workers.stop_one("volume-file")
    try:
        volume = _create(member_client, size=1, name="orphan")
        assert Volume.objects.get(pk=volume["id"]).status == "creating"
        assert conductor_volumes.volumes_reap(deadline=0) >= 1
        row = Volume.objects.get(pk=volume["id"])
        assert row.status == "error" and "timed out" in row.fault
    finally:
        workers.start_volume("file")
    # The queued create runs when the worker is back: the volume stays in error, but
    # its data is known, so a delete removes it.
    wait_for(
        lambda: Volume.objects.get(pk=volume["id"]).provider_location, 30, message="late report"
    )
    assert Volume.objects.get(pk=volume["id"]).status == "error"
    path = Path(Volume.objects.get(pk=volume["id"]).provider_location)
    assert path.exists()
    assert member_client.delete(_url(f"volumes/{volume['id']}")).status_code == 202
    wait_for(lambda: not Volume.objects.filter(pk=volume["id"]).exists(), 30, message="deleted")
    assert not path.exists()
