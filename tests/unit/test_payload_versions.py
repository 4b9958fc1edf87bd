"""Payload version negotiation: a writer builds a message in its peer's version, and a
reader pinned to an older version reads as that version's code did (rolling upgrade)."""

import dataclasses

import pytest

from cloud.payloads import (
    PAYLOAD_VERSION,
    BuildRequest,
    HostReport,
    PayloadError,
    PayloadTooNew,
    RebuildRequest,
    TaskProgress,
    previous_version,
    version_key,
)
from cloud.workers.config import ComputeConfig
from tests.unit.helpers import instance_spec

KERNEL_BOOT = dataclasses.replace(
    instance_spec(),
    image={**instance_spec().image, "kernel_file": "/k", "ramdisk_file": "/r"},
)
REPORT = HostReport(
    host="cmp-1",
    hypervisor_type="QEMU",
    hypervisor_version=8002000,
    hypervisor_hostname="cmp-1",
    libvirt_uri="qemu:///system",
    vcpus=4,
    memory_mb=4096,
    local_gb=40,
    sent_at="2026-12-01T09:00:00+00:00",
    capabilities={"supports_snapshot": True},
)


def test_versions_compare_as_numbers():
    assert version_key("1.10") > version_key("1.9")
    assert previous_version("1.4") == "1.3"
    with pytest.raises(PayloadError, match="malformed"):
        version_key("1.x")


def test_a_message_for_an_older_peer_leaves_out_what_it_did_not_know():
    request = BuildRequest(instance=KERNEL_BOOT.to_dict(), request_id="req-1")

    wire = request.to_dict("1.1")

    assert wire["version"] == "1.1"
    assert wire["instance"]["version"] == "1.1"
    assert "kernel_file" not in wire["instance"]["image"]
    assert "ramdisk_file" not in wire["instance"]["image"]
    assert request.to_dict()["instance"]["image"]["kernel_file"] == "/k"


def test_a_peer_newer_than_us_gets_our_version():
    assert REPORT.to_dict("1.99")["version"] == PAYLOAD_VERSION


def test_a_heartbeat_in_an_older_version_has_only_its_fields():
    wire = REPORT.to_dict("1.0")
    assert wire["version"] == "1.0"
    assert "sent_at" not in wire and "capabilities" not in wire
    assert HostReport.from_dict(wire).capabilities == {}


def test_a_message_kind_newer_than_the_peer_is_refused():
    rebuild = RebuildRequest(
        instance=KERNEL_BOOT.to_dict(), request_id="r", action="rebuild", task_state="rebuilding"
    )
    assert rebuild.to_dict("1.3")["version"] == "1.3"
    with pytest.raises(PayloadTooNew, match="rebuild_request messages need payload version 1.3"):
        rebuild.to_dict("1.2")


def test_a_pinned_reader_refuses_newer_messages_and_kinds():
    with pytest.raises(PayloadTooNew, match="speaks payload version 1.1"):
        BuildRequest.from_dict(
            BuildRequest(instance=KERNEL_BOOT.to_dict(), request_id="r").to_dict("1.2"),
            speaks="1.1",
        )
    progress = TaskProgress(
        instance_uuid="u", host="h", request_id="r", action="rebuild", step="rebuild_spawning"
    )
    with pytest.raises(PayloadTooNew):
        TaskProgress.from_dict({**progress.to_dict(), "version": "1.2"}, speaks="1.2")


def test_a_pinned_reader_ignores_fields_its_version_did_not_have():
    wire = BuildRequest(instance=KERNEL_BOOT.to_dict(), request_id="r").to_dict("1.1")
    wire["instance"]["image"]["kernel_file"] = "/smuggled"

    request = BuildRequest.from_dict(wire, speaks="1.1")

    assert request.instance_spec.image_spec.kernel_file == ""


def test_an_unpinned_reader_still_reads_newer_minors():
    wire = {**REPORT.to_dict(), "version": "1.99", "from_the_future": True}
    assert HostReport.from_dict(wire) == REPORT


@pytest.fixture
def compute_env(monkeypatch):
    monkeypatch.setenv("COMPUTE_HOST", "cmp-1")

    def pinned(value: str | None) -> ComputeConfig:
        if value is None:
            monkeypatch.delenv("COMPUTE_PAYLOAD_VERSION", raising=False)
        else:
            monkeypatch.setenv("COMPUTE_PAYLOAD_VERSION", value)
        return ComputeConfig.from_env()

    return pinned


def test_a_compute_speaks_the_current_version_unless_pinned(compute_env):
    assert compute_env(None).payload_version == PAYLOAD_VERSION
    assert compute_env(previous_version()).payload_version == previous_version()


@pytest.mark.parametrize("value", ["1.99", "2.0", "0.9", "one"])
def test_a_compute_cannot_be_pinned_to_a_version_it_does_not_speak(compute_env, value):
    with pytest.raises((ValueError, PayloadError)):
        compute_env(value)
