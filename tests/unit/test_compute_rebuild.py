"""The compute side of rebuild, evacuate and createImage, with the real LibvirtDriver on
`test:///default`: the guest destroyed and spawned again (its step reported before
the outcome), an evacuation spawning on a host that never had it, and a snapshot
refused by a hypervisor that keeps no disks."""

import json

import pytest

from cloud.payloads import (
    ActionResult,
    RebuildRequest,
    SnapshotRequest,
    SnapshotResult,
    TaskProgress,
)
from cloud.workers.rebuild import rebuild_instance
from cloud.workers.snapshot import snapshot_instance
from tests.unit.helpers import domain_uuids
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


@pytest.mark.parametrize("disk_format", ["qcow2", "raw"])
def test_a_snapshot_on_a_hypervisor_without_disks_fails_saying_so(make_instance, disk_format):
    manager, send = _manager()
    spec = make_instance()
    manager.build_and_run_instance(_build_request(spec))
    request = SnapshotRequest(
        instance_uuid=spec.uuid,
        name=spec.name,
        request_id="req-snap",
        image_id="6a1e8f0c-0000-4000-8000-000000000003",
        task_state="image_snapshot",
        disk_format=disk_format,
    )

    snapshot_instance(manager, request)

    name, result = send.sent[-1]
    assert name == "conductor.snapshot_failed"
    assert isinstance(result, SnapshotResult) and result.path == ""
    assert "keeps no guest disks to snapshot" in result.message
    assert manager.driver.capabilities["supports_snapshot"] is False
