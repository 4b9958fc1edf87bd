"""Lifecycle actions on libvirt's test hypervisor: the LibvirtDriver methods, and the
ComputeManager reporting their outcomes (done / failed) as payloads."""

import json
import time
import uuid

import libvirt
import pytest

from cloud.payloads import ActionRequest, ActionResult, ConsoleOutput, ConsoleRequest, Payload
from cloud.power_state import PowerState
from cloud.workers.config import ComputeConfig
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.driver import HypervisorError
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import INSTANCES, TEST_URI

RUNNING, PAUSED, SHUTDOWN = PowerState.RUNNING, PowerState.PAUSED, PowerState.SHUTDOWN


@pytest.fixture
def driver() -> LibvirtDriver:
    return LibvirtDriver(TEST_URI, INSTANCES)


@pytest.fixture
def guest(driver, make_instance):
    spec = make_instance()
    driver.spawn(spec)
    return spec.uuid


def _state(conn: libvirt.virConnect, instance_uuid: str) -> int:
    return conn.lookupByUUIDString(instance_uuid).state()[0]


@pytest.mark.parametrize("hard", [False, True])
def test_reboot_leaves_the_guest_running(driver, guest, hard):
    assert driver.reboot(guest, hard=hard).power_state == RUNNING
    assert driver.reboot(guest, hard=hard).power_state == RUNNING


def test_soft_reboot_of_a_stopped_guest_is_refused(driver, guest):
    driver.power_off(guest)
    with pytest.raises(HypervisorError, match="not running"):
        driver.reboot(guest, hard=False)


def test_hard_reboot_starts_a_stopped_paused_or_suspended_guest(driver, guest, libvirt_conn):
    for put_down in (driver.power_off, driver.pause, driver.suspend):
        put_down(guest)
        assert driver.reboot(guest, hard=True).power_state == RUNNING
        assert not libvirt_conn.lookupByUUIDString(guest).hasManagedSaveImage(0)


def test_power_off_and_on_twice_each(driver, guest, libvirt_conn):
    assert driver.power_off(guest).power_state == SHUTDOWN
    assert driver.power_off(guest).power_state == SHUTDOWN
    assert _state(libvirt_conn, guest) == libvirt.VIR_DOMAIN_SHUTOFF
    assert driver.power_on(guest).power_state == RUNNING
    assert driver.power_on(guest).power_state == RUNNING


def test_pause_and_unpause_twice_each(driver, guest, libvirt_conn):
    assert driver.pause(guest).power_state == PAUSED
    assert driver.pause(guest).power_state == PAUSED
    assert _state(libvirt_conn, guest) == libvirt.VIR_DOMAIN_PAUSED
    assert driver.unpause(guest).power_state == RUNNING
    assert driver.unpause(guest).power_state == RUNNING


def test_pause_of_a_stopped_guest_is_refused(driver, guest):
    driver.power_off(guest)
    with pytest.raises(HypervisorError, match="not running"):
        driver.pause(guest)


def test_suspend_saves_the_memory_and_resume_restores_it(driver, guest, libvirt_conn):
    assert driver.suspend(guest).power_state == SHUTDOWN
    assert driver.suspend(guest).power_state == SHUTDOWN
    domain = libvirt_conn.lookupByUUIDString(guest)
    assert domain.hasManagedSaveImage(0) and not domain.isActive()
    assert driver.resume(guest).power_state == RUNNING
    assert driver.resume(guest).power_state == RUNNING
    assert not domain.hasManagedSaveImage(0)


def test_resume_without_saved_state_is_refused(driver, guest):
    driver.power_off(guest)
    with pytest.raises(HypervisorError, match="no saved state"):
        driver.resume(guest)


@pytest.mark.parametrize("verb", ["power_off", "power_on", "pause", "unpause", "suspend", "resume"])
def test_an_unknown_guest_is_a_hypervisor_error(driver, verb):
    with pytest.raises(HypervisorError, match="not on this host"):
        getattr(driver, verb)(str(uuid.uuid4()))


def test_the_test_hypervisor_declares_a_console_log_and_snapshots_but_no_graphics(driver):
    # Its guests' disk files are real (cloud.workers.virt.disks): they can be copied.
    assert driver.capabilities == {
        "supports_diagnostics": True,
        "supports_console_output": True,
        "supports_remote_consoles": False,
        "supports_snapshot": True,
        "supports_volume_hotplug": False,
    }
    qemu = LibvirtDriver("qemu:///system", INSTANCES).capabilities
    assert qemu["supports_console_output"] and qemu["supports_volume_hotplug"]


@pytest.fixture
def started(tmp_path) -> LibvirtDriver:
    """A test-hypervisor driver whose host has started: it keeps its guests' console logs."""
    driver = LibvirtDriver(TEST_URI, tmp_path)
    driver.init_host("cmp-unit")
    return driver


def _console(driver: LibvirtDriver, uuid: str, length: int | None, lines: int) -> str:
    """The console output once it holds `lines` lines (libvirt's events arrive on the
    event loop's thread)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            text = driver.get_console_output(uuid, None)
        except HypervisorError:
            text = ""
        if len(text.splitlines()) >= lines or time.monotonic() > deadline:
            return driver.get_console_output(uuid, length)
        time.sleep(0.02)


def test_the_simulated_console_logs_each_power_transition(started, make_instance):
    spec = make_instance()
    started.spawn(spec)
    started.pause(spec.uuid)
    started.unpause(spec.uuid)
    started.reboot(spec.uuid, hard=False)
    started.power_off(spec.uuid)
    text = _console(started, spec.uuid, None, 6)
    lines = text.splitlines()
    words = [line.split(": ", 1)[1] for line in lines]
    assert words == [
        "defined (added)",
        "started (booted)",
        "paused (by request)",
        "resumed",
        "rebooted (soft)",
        "stopped (shut down)",
    ]
    assert all(f"{spec.name} ({spec.uuid})" in line for line in lines)
    # `length` is the last lines
    assert _console(started, spec.uuid, 2, 6).splitlines() == lines[-2:]
    assert _console(started, spec.uuid, 0, 6) == ""


def test_a_deleted_guest_leaves_no_console_log(started, make_instance, tmp_path):
    spec = make_instance()
    started.spawn(spec)
    _console(started, spec.uuid, None, 2)
    started.destroy(spec.uuid)
    time.sleep(0.2)  # the "stopped" event must not bring the directory back
    assert not (tmp_path / spec.uuid).exists()


def test_console_output_of_a_guest_without_a_log_is_refused(driver, guest):
    with pytest.raises(HypervisorError, match="cannot read the console log"):
        driver.get_console_output(guest, None)


# -- the manager reports what happened ---------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Payload]] = []

    def __call__(self, task_name: str, payload: Payload) -> None:
        json.dumps(payload.to_dict())
        self.sent.append((task_name, payload))


@pytest.fixture
def manager(driver) -> tuple[ComputeManager, Recorder]:
    config = ComputeConfig(
        host="cmp-unit",
        libvirt_uri=TEST_URI,
        instances_path=INSTANCES,
        heartbeat_interval=60.0,
        disk_gb=50,
    )
    send = Recorder()
    return ComputeManager(config, driver, send), send


def _request(instance_uuid: str, action: str, task_state: str, hard: bool = False):
    wire = ActionRequest(
        instance_uuid=instance_uuid,
        name="instance-00000001",
        request_id="req-act",
        action=action,
        task_state=task_state,
        hard=hard,
    )
    return ActionRequest.from_dict(json.loads(json.dumps(wire.to_dict())))


def _done(instance_uuid: str, action: str, task_state: str, power_state: int) -> tuple:
    return (
        "conductor.instance_action_done",
        ActionResult(
            instance_uuid=instance_uuid,
            host="cmp-unit",
            request_id="req-act",
            action=action,
            task_state=task_state,
            power_state=power_state,
        ),
    )


def test_each_action_reports_done_with_the_power_state(manager, guest):
    compute, send = manager
    steps = [
        ("pause_instance", "pause", "pausing", PAUSED),
        ("unpause_instance", "unpause", "unpausing", RUNNING),
        ("suspend_instance", "suspend", "suspending", SHUTDOWN),
        ("resume_instance", "resume", "resuming", RUNNING),
        ("power_off_instance", "stop", "powering-off", SHUTDOWN),
        ("power_on_instance", "start", "powering-on", RUNNING),
        ("reboot_instance", "reboot", "rebooting", RUNNING),
    ]
    for method, action, task_state, _ in steps:
        getattr(compute, method)(_request(guest, action, task_state))
    assert send.sent == [_done(guest, a, t, p) for _, a, t, p in steps]


def test_the_same_action_delivered_twice_reports_the_same(manager, guest):
    compute, send = manager
    compute.pause_instance(_request(guest, "pause", "pausing"))
    compute.pause_instance(_request(guest, "pause", "pausing"))
    assert send.sent == [_done(guest, "pause", "pausing", PAUSED)] * 2


def test_a_failed_action_reports_the_error_and_the_power_state_seen(manager, guest):
    compute, send = manager
    compute.power_off_instance(_request(guest, "stop", "powering-off"))
    send.sent.clear()

    compute.reboot_instance(_request(guest, "reboot", "rebooting"))

    ((name, result),) = send.sent
    assert name == "conductor.instance_action_failed"
    assert (result.action, result.task_state, result.power_state) == (
        "reboot",
        "rebooting",
        SHUTDOWN,
    )
    assert "not running" in result.message
    assert "HypervisorError" in result.details


def test_a_failure_on_an_unknown_guest_has_no_power_state(manager):
    compute, send = manager
    compute.pause_instance(_request(str(uuid.uuid4()), "pause", "pausing"))
    ((name, result),) = send.sent
    assert name == "conductor.instance_action_failed"
    assert result.power_state is None


def test_console_output_names_no_host_path_when_it_cannot_be_read(manager, guest):
    compute, _ = manager
    answer = compute.get_console_output(ConsoleRequest(instance_uuid=guest, length=5))
    assert answer == ConsoleOutput(
        available=False, message="its host cannot read the guest's console log."
    )
