"""The compute side of periodic work, with the real LibvirtDriver on `test:///default`:
what a host reports when its worker starts and every power-sync interval, and how it
finishes or fails the work the conductor sends back to reconcile."""

import dataclasses
import json
import time

import pytest

from cloud.payloads import (
    ActionRequest,
    ActionResult,
    BuildFailure,
    ComputeStarted,
    GuestStates,
    ReconcileRequest,
    SpawnResult,
    TerminateRequest,
    previous_version,
)
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import domain_uuids
from tests.unit.test_compute_manager import Recorder, _build_request, _config, _manager


def _reconcile(manager: ComputeManager, **work: list) -> None:
    request = ReconcileRequest(
        host="cmp-unit", **{k: [p.to_dict() for p in v] for k, v in work.items()}
    )
    # As it arrives off the queue.
    manager.reconcile(ReconcileRequest.from_dict(json.loads(json.dumps(request.to_dict()))))


def _action(spec, action: str, task_state: str) -> ActionRequest:
    return ActionRequest(
        instance_uuid=spec.uuid,
        name=spec.name,
        request_id="req-act",
        action=action,
        task_state=task_state,
        hard=action == "reboot_hard",
    )


def _spawned(manager: ComputeManager, spec) -> None:
    manager.driver.spawn(spec)


# -- what the host reports ---------------------------------------------------------


def test_start_reports_the_host_and_every_guest(make_instance, libvirt_conn, tmp_path):
    config = dataclasses.replace(_config(), instances_path=tmp_path)
    send = Recorder()
    manager = ComputeManager(config, LibvirtDriver(config.libvirt_uri, tmp_path), send)
    spec = make_instance()
    _spawned(manager, spec)
    libvirt_conn.lookupByUUIDString(spec.uuid).destroy()

    manager.start()
    manager.stop()

    assert send.names == ["conductor.compute_heartbeat", "conductor.compute_started"]
    started = send.sent[1][1]
    assert isinstance(started, ComputeStarted)
    assert started.host_report.host == "cmp-unit"
    guests = started.guest_states
    assert guests.host == "cmp-unit" and guests.sampled_at
    assert guests.guests[spec.uuid] == 4  # shut off
    # Guests the platform may not know are reported too (the stock "test" domain).
    assert set(guests.guests) == set(domain_uuids(libvirt_conn))


def test_a_host_pinned_before_1_5_sends_no_1_5_message(tmp_path):
    config = dataclasses.replace(
        _config(),
        payload_version=previous_version(ComputeStarted.SINCE),
        instances_path=tmp_path,
    )
    send = Recorder()
    manager = ComputeManager(
        config, LibvirtDriver(config.libvirt_uri, config.instances_path, config.disk_gb), send
    )

    manager.start()
    manager.stop()

    assert send.names == ["conductor.compute_heartbeat"]


def test_power_states_and_heartbeats_are_reported_on_their_intervals(make_instance, tmp_path):
    config = dataclasses.replace(
        _config(), heartbeat_interval=0.05, power_sync_interval=0.05, instances_path=tmp_path
    )
    send = Recorder()
    manager = ComputeManager(
        config, LibvirtDriver(config.libvirt_uri, config.instances_path, config.disk_gb), send
    )
    spec = make_instance()
    _spawned(manager, spec)

    manager.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and send.names.count("conductor.sync_power_states") < 2:
        time.sleep(0.02)
    manager.stop()

    assert send.names.count("conductor.sync_power_states") >= 2
    assert send.names.count("conductor.compute_heartbeat") >= 2
    report = next(p for n, p in send.sent if n == "conductor.sync_power_states")
    assert isinstance(report, GuestStates) and report.guests[spec.uuid] == 1


# -- reconcile: builds -------------------------------------------------------------


def test_a_build_libvirt_runs_is_reported_spawned(make_instance):
    manager, send = _manager()
    spec = make_instance()
    _spawned(manager, spec)

    _reconcile(manager, builds=[_build_request(spec, attempt=2)])

    assert send.sent == [
        (
            "conductor.instance_spawned",
            SpawnResult(
                instance_uuid=spec.uuid,
                host="cmp-unit",
                request_id="req-build",
                power_state=1,
                attempt=2,
            ),
        )
    ]


@pytest.mark.parametrize("defined", [False, True], ids=["never-defined", "defined-not-started"])
def test_a_build_that_never_finished_fails_and_leaves_no_guest(
    make_instance, libvirt_conn, defined
):
    manager, send = _manager()
    spec = make_instance()
    if defined:
        _spawned(manager, spec)
        libvirt_conn.lookupByUUIDString(spec.uuid).destroy()

    _reconcile(manager, builds=[_build_request(spec)])

    assert send.names == ["conductor.build_failed"]
    failure = send.sent[0][1]
    assert isinstance(failure, BuildFailure)
    assert (failure.instance_uuid, failure.request_id) == (spec.uuid, "req-build")
    assert "stopped during the build" in failure.message and "cmp-unit" in failure.message
    assert spec.uuid not in domain_uuids(libvirt_conn)


# -- reconcile: actions and deletes ------------------------------------------------


def test_a_reboot_of_a_running_guest_is_done_without_rebooting_it_again(
    make_instance, libvirt_conn
):
    manager, send = _manager()
    spec = make_instance()
    _spawned(manager, spec)
    domain_id = libvirt_conn.lookupByUUIDString(spec.uuid).ID()

    _reconcile(manager, actions=[_action(spec, "reboot", "rebooting")])

    assert send.names == ["conductor.instance_action_done"]
    assert send.sent[0][1].power_state == 1
    # A hard reboot would have started a new domain (a new id).
    assert libvirt_conn.lookupByUUIDString(spec.uuid).ID() == domain_id


def test_a_reboot_of_a_guest_left_off_is_finished_as_a_hard_one(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance()
    _spawned(manager, spec)
    libvirt_conn.lookupByUUIDString(spec.uuid).destroy()

    _reconcile(manager, actions=[_action(spec, "reboot", "rebooting")])

    assert send.names == ["conductor.instance_action_done"]
    assert libvirt_conn.lookupByUUIDString(spec.uuid).isActive()


def test_an_action_on_a_guest_the_host_lost_fails(make_instance):
    manager, send = _manager()
    spec = make_instance()

    _reconcile(manager, actions=[_action(spec, "reboot_hard", "rebooting_hard")])

    assert send.names == ["conductor.instance_action_failed"]
    result = send.sent[0][1]
    assert isinstance(result, ActionResult)
    assert (result.action, result.task_state, result.power_state) == (
        "reboot_hard",
        "rebooting_hard",
        None,
    )
    assert "not on this host" in result.message


def test_actions_are_redone_and_deletes_carried_out(make_instance, libvirt_conn):
    manager, send = _manager()
    stopping, deleting = make_instance(), make_instance()
    _spawned(manager, stopping)
    _spawned(manager, deleting)

    _reconcile(
        manager,
        actions=[_action(stopping, "stop", "powering-off"), _action(stopping, "rebuild", "x")],
        terminations=[
            TerminateRequest(instance_uuid=deleting.uuid, name=deleting.name, request_id="req-d")
        ],
    )

    # The action this host cannot finish ("rebuild") is left to the conductor's deadline.
    assert send.names == ["conductor.instance_action_done", "conductor.instance_terminated"]
    assert send.sent[0][1].power_state == 4
    assert not libvirt_conn.lookupByUUIDString(stopping.uuid).isActive()
    assert deleting.uuid not in domain_uuids(libvirt_conn)
