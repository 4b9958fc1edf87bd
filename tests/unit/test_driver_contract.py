"""The driver contract: a driver implementing only the required methods works, and
each optional one it leaves out answers "not supported" through the manager."""

from pathlib import Path

import pytest

from cloud.payloads import ActionRequest
from cloud.workers.config import ComputeConfig
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.driver import ComputeDriver, NotSupported
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import TEST_URI
from tests.unit.test_compute_manager import Recorder, _build_request

REQUIRED = {
    "init_host",
    "host_resources",
    "spawn",
    "destroy",
    "get_info",
    "list_instance_uuids",
    "reboot",
    "power_off",
    "power_on",
}


class MinimalDriver(ComputeDriver):
    """Only what the contract requires, each answered by libvirt's test hypervisor."""

    def __init__(self, libvirt: LibvirtDriver) -> None:
        self.libvirt = libvirt

    def init_host(self, host):
        return self.libvirt.init_host(host)

    def host_resources(self):
        return self.libvirt.host_resources()

    def spawn(self, instance):
        return self.libvirt.spawn(instance)

    def destroy(self, instance_uuid):
        return self.libvirt.destroy(instance_uuid)

    def get_info(self, instance_uuid):
        return self.libvirt.get_info(instance_uuid)

    def list_instance_uuids(self):
        return self.libvirt.list_instance_uuids()

    def reboot(self, instance_uuid, *, hard):
        return self.libvirt.reboot(instance_uuid, hard=hard)

    def power_off(self, instance_uuid):
        return self.libvirt.power_off(instance_uuid)

    def power_on(self, instance_uuid):
        return self.libvirt.power_on(instance_uuid)


def test_the_required_methods_are_exactly_the_abstract_ones():
    assert ComputeDriver.__abstractmethods__ == REQUIRED


def test_a_driver_with_only_the_required_methods_builds_and_refuses_the_rest(
    make_instance, tmp_path: Path
):
    libvirt = LibvirtDriver(TEST_URI, tmp_path, 50)
    driver = MinimalDriver(libvirt)
    config = ComputeConfig(
        host="cmp-min",
        libvirt_uri=TEST_URI,
        instances_path=tmp_path,
        heartbeat_interval=60.0,
        disk_gb=50,
    )
    send = Recorder()
    manager = ComputeManager(config, driver, send)
    spec = make_instance()

    manager.build_and_run_instance(_build_request(spec))
    assert send.names == ["conductor.instance_spawned"]
    # The default power_states asks per guest, and agrees with libvirt's one look.
    assert driver.power_states()[spec.uuid] == libvirt.power_states()[spec.uuid] == 1

    manager.pause_instance(
        ActionRequest(
            instance_uuid=spec.uuid,
            name=spec.name,
            request_id="req-pause",
            action="pause",
            task_state="pausing",
        )
    )
    name, failed = send.sent[-1]
    assert name == "conductor.instance_action_failed"
    assert failed.message == "MinimalDriver does not support pause"
    assert failed.power_state == 1
    for call in (
        lambda: driver.suspend(spec.uuid),
        lambda: driver.get_console_output(spec.uuid, None),
        lambda: driver.snapshot(spec.uuid, tmp_path / "snap", "qcow2"),
        lambda: driver.finish_migration(spec, power_on=True),
        lambda: driver.get_diagnostics(spec.uuid),
    ):
        with pytest.raises(NotSupported, match="MinimalDriver does not support"):
            call()
    libvirt.destroy(spec.uuid)
