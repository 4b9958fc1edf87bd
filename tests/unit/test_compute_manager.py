"""ComputeManager with the real LibvirtDriver on `test:///default`, reporting to a recorder."""

import json
import uuid

import pytest

from cloud.payloads import (
    BuildFailure,
    BuildRequest,
    HostReport,
    Payload,
    SpawnResult,
    Terminated,
    TerminateRequest,
)
from cloud.workers.config import ComputeConfig
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.unit.helpers import INSTANCES, TEST_URI, domain_uuids


class Recorder:
    """A `send` callable that keeps what the manager sent, checked to be valid JSON."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Payload]] = []

    def __call__(self, task_name: str, payload: Payload) -> None:
        json.dumps(payload.to_dict())  # what would go on the wire must serialise
        self.sent.append((task_name, payload))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.sent]


def _config(uri: str = TEST_URI) -> ComputeConfig:
    return ComputeConfig(
        host="cmp-unit",
        libvirt_uri=uri,
        instances_path=INSTANCES,
        heartbeat_interval=60.0,
        disk_gb=50,
    )


def _manager(uri: str = TEST_URI) -> tuple[ComputeManager, Recorder]:
    config = _config(uri)
    send = Recorder()
    driver = LibvirtDriver(config.libvirt_uri, config.instances_path, config.disk_gb)
    return ComputeManager(config, driver, send), send


def _build_request(spec, attempt: int = 1) -> BuildRequest:
    # As it arrives off the queue: a dict read back into a payload.
    wire = BuildRequest(instance=spec.to_dict(), request_id="req-build", attempt=attempt)
    return BuildRequest.from_dict(json.loads(json.dumps(wire.to_dict())))


def test_build_reports_instance_spawned(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance()

    manager.build_and_run_instance(_build_request(spec, attempt=2))

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
    assert libvirt_conn.lookupByUUIDString(spec.uuid).isActive()


def test_redelivered_build_does_no_harm(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance()
    request = _build_request(spec)

    manager.build_and_run_instance(request)
    manager.build_and_run_instance(request)

    assert send.names == ["conductor.instance_spawned", "conductor.instance_spawned"]
    assert [u for u in domain_uuids(libvirt_conn) if u == spec.uuid] == [spec.uuid]


def test_definition_libvirt_rejects_reports_build_failed(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance(memory_mb=0)  # libvirt: "Memory size must be specified"

    manager.build_and_run_instance(_build_request(spec, attempt=3))

    assert send.names == ["conductor.build_failed"]
    failure = send.sent[0][1]
    assert isinstance(failure, BuildFailure)
    assert (failure.instance_uuid, failure.host, failure.request_id, failure.attempt) == (
        spec.uuid,
        "cmp-unit",
        "req-build",
        3,
    )
    assert failure.message.strip()
    assert spec.name in failure.message
    assert len(failure.message) <= 255
    assert "HypervisorError" in failure.details
    assert spec.uuid not in domain_uuids(libvirt_conn)


def test_unreachable_hypervisor_reports_build_failed(make_instance):
    manager, send = _manager("test:///nonexistent/file.xml")
    spec = make_instance()

    manager.build_and_run_instance(_build_request(spec))

    assert send.names == ["conductor.build_failed"]
    failure = send.sent[0][1]
    assert failure.instance_uuid == spec.uuid
    assert "cannot connect" in failure.message


def test_terminate_reports_instance_terminated(make_instance, libvirt_conn):
    manager, send = _manager()
    spec = make_instance()
    manager.build_and_run_instance(_build_request(spec))
    send.sent.clear()

    manager.terminate_instance(
        TerminateRequest(instance_uuid=spec.uuid, name=spec.name, request_id="req-del")
    )

    assert send.sent == [
        (
            "conductor.instance_terminated",
            Terminated(instance_uuid=spec.uuid, host="cmp-unit", request_id="req-del"),
        )
    ]
    assert spec.uuid not in domain_uuids(libvirt_conn)


@pytest.mark.parametrize("times", [1, 2])
def test_terminate_of_an_absent_guest_still_reports(times):
    manager, send = _manager()
    request = TerminateRequest(
        instance_uuid=str(uuid.uuid4()), name="instance-gone", request_id="req-del"
    )

    for _ in range(times):
        manager.terminate_instance(request)

    expected = Terminated(
        instance_uuid=request.instance_uuid, host="cmp-unit", request_id="req-del"
    )
    assert send.sent == [("conductor.instance_terminated", expected)] * times


def test_host_report_describes_the_host(libvirt_conn):
    manager, send = _manager()

    manager.report_host()

    assert send.names == ["conductor.compute_heartbeat"]
    report = send.sent[0][1]
    assert isinstance(report, HostReport)
    _arch, memory_mb, cpus, *_ = libvirt_conn.getInfo()
    assert (report.host, report.libvirt_uri) == ("cmp-unit", TEST_URI)
    assert (report.vcpus, report.memory_mb, report.local_gb) == (cpus, memory_mb, 50)
    assert report.hypervisor_type == libvirt_conn.getType()
    assert report.started_at == manager.started_at
    assert HostReport.from_dict(report.to_dict()) == report


def test_diagnostics_and_listing_go_through_the_driver(make_instance):
    manager, _send = _manager()
    spec = make_instance(vcpus=1)
    manager.build_and_run_instance(_build_request(spec))

    assert spec.uuid in manager.list_instance_uuids()
    assert manager.get_diagnostics(spec.uuid)["num_cpus"] == 1
    assert manager.get_diagnostics(str(uuid.uuid4())) is None
