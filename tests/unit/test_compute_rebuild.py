"""The compute side of rebuild, evacuate and createImage, with the real LibvirtDriver on
`test:///default`: the guest destroyed and spawned again (its step reported before
the outcome), an evacuation spawning on a host that never had it, and a snapshot
uploaded to the image API's file endpoint (a real HTTP server standing in for it)."""

import hashlib
import json

from cloud.payloads import (
    ActionResult,
    RebuildRequest,
    SnapshotRequest,
    SnapshotResult,
    TaskProgress,
)
from cloud.workers.rebuild import rebuild_instance
from cloud.workers.snapshot import snapshot_instance
from tests.image_server import TOKEN, ImageServer
from tests.unit.helpers import INSTANCES, domain_uuids
from tests.unit.test_compute_manager import _build_request, _manager


def _rebuild(spec, action: str = "rebuild", stopped: bool = False) -> RebuildRequest:
    wire = RebuildRequest(
        instance=spec.to_dict(),
        request_id="req-rb",
        action=action,
        task_state="rebuilding",
        stopped=stopped,
    )
    return RebuildRequest.from_dict(json.loads(json.dumps(wire.to_dict())))


def test_rebuild_destroys_and_spawns_the_guest_again(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance()
    manager.build_and_run_instance(_build_request(spec))
    first_id = libvirt_conn.lookupByUUIDString(spec.uuid).ID()

    rebuild_instance(manager, _rebuild(spec))

    assert send.names[1:] == ["conductor.instance_task_progress", "conductor.rebuild_done"]
    step = send.sent[1][1]
    assert isinstance(step, TaskProgress) and step.step == "rebuild_spawning"
    assert send.sent[2][1] == ActionResult(
        instance_uuid=spec.uuid,
        host="cmp-unit",
        request_id="req-rb",
        action="rebuild",
        task_state="rebuilding",
        power_state=1,
    )
    domain = libvirt_conn.lookupByUUIDString(spec.uuid)
    assert domain.isActive() and domain.ID() != first_id  # a new guest, same uuid


def test_an_evacuation_spawns_on_a_host_that_never_had_the_guest(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance()
    assert spec.uuid not in domain_uuids(libvirt_conn)

    rebuild_instance(manager, _rebuild(spec, action="evacuate", stopped=True))

    result = send.sent[-1]
    assert result[0] == "conductor.rebuild_done"
    assert (result[1].action, result[1].power_state) == ("evacuate", 4)
    assert not libvirt_conn.lookupByUUIDString(spec.uuid).isActive()


def test_a_failed_rebuild_reports_why(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance(memory_mb=0)  # libvirt: "Memory size must be specified"

    rebuild_instance(manager, _rebuild(spec))

    name, result = send.sent[-1]
    assert name == "conductor.rebuild_failed"
    assert result.message and result.details


def test_a_snapshot_is_uploaded_to_the_image_api(make_instance):
    manager, send = _manager()
    spec = make_instance()
    manager.build_and_run_instance(_build_request(spec))
    image_id = "6a1e8f0c-0000-4000-8000-000000000003"
    with ImageServer() as server:
        request = SnapshotRequest(
            instance_uuid=spec.uuid,
            name=spec.name,
            request_id="req-snap",
            image_id=image_id,
            task_state="image_snapshot",
            upload_url=server.file_url(image_id),
            upload_token=TOKEN,
        )

        snapshot_instance(manager, request)

    assert send.names[-3:] == [
        "conductor.instance_task_progress",
        "conductor.instance_task_progress",
        "conductor.snapshot_done",
    ]
    result = send.sent[-1][1]
    data = server.uploads[image_id]
    assert isinstance(result, SnapshotResult) and result.size == len(data)
    assert result.os_hash_value == hashlib.sha512(data).hexdigest()
    assert not list((INSTANCES / spec.uuid).glob(".snapshot-*"))  # the copy is removed


def test_a_refused_upload_fails_the_snapshot_saying_so(make_instance):
    manager, send = _manager()
    spec = make_instance()
    manager.build_and_run_instance(_build_request(spec))
    with ImageServer() as server:
        request = SnapshotRequest(
            instance_uuid=spec.uuid,
            name=spec.name,
            request_id="req-snap",
            image_id="6a1e8f0c-0000-4000-8000-000000000004",
            task_state="image_snapshot",
            upload_url=server.file_url("6a1e8f0c-0000-4000-8000-000000000004"),
            upload_token="wrong",
        )
        snapshot_instance(manager, request)

    name, result = send.sent[-1]
    assert name == "conductor.snapshot_failed"
    assert "answered 401 to the upload" in result.message
