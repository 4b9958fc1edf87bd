"""Resize on libvirt's test hypervisor: the driver's finish_migration, and the compute
steps (cloud.workers.resize) reporting each outcome to the conductor as a payload."""

import dataclasses
import json

import libvirt
import pytest

from cloud.payloads import MigrationRequest, MigrationResult, Payload
from cloud.power_state import PowerState
from cloud.workers import resize
from cloud.workers.config import ComputeConfig
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import INSTANCES, TEST_URI

RUNNING, SHUTDOWN = PowerState.RUNNING, PowerState.SHUTDOWN


@pytest.fixture
def driver() -> LibvirtDriver:
    return LibvirtDriver(TEST_URI, INSTANCES)


def _bigger(spec, memory_mb: int = 1024, vcpus: int = 4):
    return dataclasses.replace(spec, flavor={**spec.flavor, "memory_mb": memory_mb, "vcpus": vcpus})


def _size(conn: libvirt.virConnect, instance_uuid: str) -> tuple[int, int]:
    _, max_memory_kb, _, vcpus, _ = conn.lookupByUUIDString(instance_uuid).info()
    return max_memory_kb // 1024, vcpus


def test_finish_migration_defines_and_starts_a_guest_new_to_the_host(
    driver, make_instance, libvirt_conn
):
    spec = make_instance(memory_mb=512, vcpus=1)
    info = driver.finish_migration(spec, power_on=True)
    assert info.power_state == RUNNING
    assert _size(libvirt_conn, spec.uuid) == (512, 1)
    # Redelivered: the running guest already has that flavor and is only reported.
    domain_id = libvirt_conn.lookupByUUIDString(spec.uuid).ID()
    assert driver.finish_migration(spec, power_on=True).power_state == RUNNING
    assert libvirt_conn.lookupByUUIDString(spec.uuid).ID() == domain_id


def test_finish_migration_redefines_a_stopped_guest_with_the_new_flavor(
    driver, make_instance, libvirt_conn
):
    spec = make_instance(memory_mb=512, vcpus=1)
    driver.spawn(spec)
    driver.power_off(spec.uuid)
    assert driver.finish_migration(_bigger(spec), power_on=True).power_state == RUNNING
    assert _size(libvirt_conn, spec.uuid) == (1024, 4)
    assert len([d for d in libvirt_conn.listAllDomains() if d.UUIDString() == spec.uuid]) == 1


def test_finish_migration_replaces_a_running_guest_of_another_flavor(
    driver, make_instance, libvirt_conn
):
    """A revert on the host it was resized on: the guest runs with the new flavor."""
    spec = make_instance(memory_mb=512, vcpus=1)
    driver.spawn(_bigger(spec))
    assert driver.finish_migration(spec, power_on=True).power_state == RUNNING
    assert _size(libvirt_conn, spec.uuid) == (512, 1)


def test_finish_migration_of_a_stopped_server_leaves_it_off(driver, make_instance):
    spec = make_instance()
    assert driver.finish_migration(spec, power_on=False).power_state == SHUTDOWN


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Payload]] = []

    def __call__(self, task_name: str, payload: Payload) -> None:
        json.dumps(payload.to_dict())
        self.sent.append((task_name, payload))


@pytest.fixture
def compute(driver) -> tuple[ComputeManager, Recorder]:
    config = ComputeConfig(
        host="cmp-unit",
        libvirt_uri=TEST_URI,
        instances_path=INSTANCES,
        heartbeat_interval=60.0,
        disk_gb=50,
    )
    send = Recorder()
    return ComputeManager(config, driver, send), send


def _request(spec, with_guest: bool = False) -> MigrationRequest:
    wire = MigrationRequest(
        migration_uuid="5d7c1c8e-0000-4000-8000-000000000002",
        instance_uuid=spec.uuid,
        request_id="req-resize",
        instance=spec.to_dict() if with_guest else {},
    ).to_dict()
    return MigrationRequest.from_dict(json.loads(json.dumps(wire)))


def test_each_step_reports_its_outcome(compute, make_instance, libvirt_conn):
    manager, send = compute
    spec = make_instance(memory_mb=512, vcpus=1)
    manager.driver.spawn(spec)
    resize.migration_step(manager, _request(spec), "resize_instance")
    resize.migration_step(manager, _request(_bigger(spec), with_guest=True), "finish_resize")
    resize.migration_step(manager, _request(spec), "confirm_resize")
    names = [name for name, _ in send.sent]
    assert names == ["conductor.migration_step_done"] * 3
    results = [payload for _, payload in send.sent]
    assert all(isinstance(r, MigrationResult) and r.host == "cmp-unit" for r in results)
    assert [(r.step, r.power_state) for r in results] == [
        ("resize_instance", SHUTDOWN),
        ("finish_resize", RUNNING),
        ("confirm_resize", None),
    ]
    assert spec.uuid not in [d.UUIDString() for d in libvirt_conn.listAllDomains()]


def test_a_step_on_a_guest_the_host_does_not_have_fails_with_the_reason(compute, make_instance):
    manager, send = compute
    spec = make_instance()
    resize.migration_step(manager, _request(spec), "resize_instance")
    ((name, result),) = send.sent
    assert name == "conductor.migration_step_failed"
    assert result.step == "resize_instance"
    assert "not on this host" in result.message and result.details
