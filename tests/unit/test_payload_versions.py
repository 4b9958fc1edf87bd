"""Payload version negotiation: a writer builds a message in its peer's version, and a
reader pinned to an older version reads as that version's code did (rolling upgrade)."""

import dataclasses

import pytest

from cloud.payloads import (
    PAYLOAD_VERSION,
    BuildInstances,
    BuildRequest,
    HostReport,
    MigrationTask,
    PayloadError,
    PayloadTooNew,
    RebuildRequest,
    SchedulerAnswer,
    SchedulingRequest,
    TaskProgress,
    previous_version,
    version_key,
    version_pin,
)
from cloud.rpc import ServiceTooOld, for_service, upgrade_level
from cloud.scheduler.services import Selection
from cloud.scheduler.tasks import answer
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


# -- the control plane's own messages (1.6): api -> conductor, conductor <-> scheduler --

NOW = PAYLOAD_VERSION
GROUP = "0e2f3b4c-0000-4000-8000-000000000004"
RESOLVED = SchedulingRequest(
    instance_uuid="1b2c3d4e-0000-4000-8000-000000000005",
    project_id="p1",
    resources={"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1},
    group_uuid=GROUP,
    same_host=["2c3d4e5f-0000-4000-8000-000000000006"],
    different_host=["3d4e5f60-0000-4000-8000-000000000007"],
    same_host_hosts=["cmp-1"],
    different_host_hosts=["cmp-2"],
    group_hosts={"cmp-3": 1},
)


def test_a_scheduling_request_for_a_1_5_scheduler_keeps_what_it_resolves_itself():
    wire = RESOLVED.to_dict("1.5")

    assert wire["version"] == "1.5"
    assert not {"same_host_hosts", "different_host_hosts", "group_hosts"} & set(wire)
    # What a 1.5 scheduler looks the hosts up from is still there.
    assert (wire["same_host"], wire["different_host"], wire["group_uuid"]) == (
        RESOLVED.same_host,
        RESOLVED.different_host,
        GROUP,
    )


def test_a_scheduler_pinned_to_1_5_reads_a_1_5_request_without_resolved_hosts():
    request = SchedulingRequest.from_dict(RESOLVED.to_dict("1.5"), speaks="1.5")

    assert (request.same_host_hosts, request.different_host_hosts) == ([], [])
    assert request.group_hosts is None  # read from the group's table, then
    with pytest.raises(PayloadTooNew, match="speaks payload version 1.5"):
        SchedulingRequest.from_dict(RESOLVED.to_dict(), speaks="1.5")


def test_a_pinned_reader_ignores_resolved_hosts_smuggled_into_a_1_5_request():
    wire = {**RESOLVED.to_dict("1.5"), "group_hosts": {"cmp-9": 3}}
    assert SchedulingRequest.from_dict(wire, speaks="1.5").group_hosts is None
    assert SchedulingRequest.from_dict(wire).group_hosts == {"cmp-9": 3}


@pytest.mark.parametrize(
    ("cls", "sent"),
    [
        (BuildInstances, {"instance_uuids": ["i-1", "i-2"], "request_id": "req-1"}),
        (MigrationTask, {"migration_uuid": "m-1", "request_id": "req-2"}),
        (SchedulerAnswer, {"instance_uuid": "i-1", "request_id": "req-1", "host": "cmp-1"}),
        (SchedulingRequest, {"instance_uuid": "i-1", "project_id": "p", "resources": {}}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_a_plain_dict_from_a_1_5_peer_is_read_as_1_5(cls, sent):
    """Up to 1.5 these messages were dicts without a version; one still queued when its
    reader was upgraded (or sent by a 1.5 peer) is read, by a pinned reader too."""
    read = cls.from_dict(sent)
    assert read == cls.from_dict(sent, speaks="1.5")
    assert all(getattr(read, key) == value for key, value in sent.items())


def test_a_1_5_conductor_reads_the_answer_as_it_read_the_old_dict():
    """The answer keeps the flat keys a 1.5 conductor's tasks read."""
    wire = SchedulerAnswer(
        instance_uuid="i-1", request_id="req-1", host="cmp-1", alternates=["cmp-2"]
    ).to_dict("1.5")
    assert {"instance_uuid", "request_id", "host", "alternates", "attempt", "error"} <= set(wire)
    assert wire["migration_uuid"] == "" and wire["version"] == "1.5"


def test_the_scheduler_answers_in_the_version_it_was_asked_in():
    selection = Selection(host="cmp-1", alternates=["cmp-2"])
    for wire in (
        RESOLVED.to_dict("1.5"),
        RESOLVED.to_dict(),
        {"instance_uuid": "i", "project_id": "p", "resources": {}},
    ):
        request = SchedulingRequest.from_dict(wire)
        reply = answer(wire, request, selection)
        assert reply["version"] == wire.get("version", "1.5")
        assert (reply["instance_uuid"], reply["host"]) == (request.instance_uuid, "cmp-1")


@pytest.mark.parametrize(
    ("levels", "pin", "conductor", "scheduler"),
    [
        (
            {"conductor": PAYLOAD_VERSION, "scheduler": PAYLOAD_VERSION},
            PAYLOAD_VERSION,
            PAYLOAD_VERSION,
            PAYLOAD_VERSION,
        ),
        (
            {"conductor": "1.5", "scheduler": PAYLOAD_VERSION},
            PAYLOAD_VERSION,
            "1.5",
            PAYLOAD_VERSION,
        ),
        # A pinned conductor writes no newer than it speaks, whatever the level says.
        ({"conductor": PAYLOAD_VERSION, "scheduler": PAYLOAD_VERSION}, "1.5", "1.5", "1.5"),
    ],
)
def test_messages_for_a_service_are_built_in_its_upgrade_level(
    settings, levels, pin, conductor, scheduler
):
    settings.UPGRADE_LEVELS, settings.PAYLOAD_VERSION_PIN = levels, pin
    assert (upgrade_level("conductor"), upgrade_level("scheduler")) == (conductor, scheduler)
    built = for_service("scheduler", "scheduler.select_destinations", RESOLVED)
    assert built["version"] == scheduler
    assert ("group_hosts" in built) == (scheduler == PAYLOAD_VERSION)


def test_a_message_the_pinned_service_cannot_read_is_a_409(settings):
    settings.UPGRADE_LEVELS = {"conductor": "1.2", "scheduler": PAYLOAD_VERSION}
    task = MigrationTask(migration_uuid="m-1", request_id="req-1")
    with pytest.raises(ServiceTooOld, match="conductors speak payload version 1.2") as raised:
        for_service("conductor", "conductor.resize_instance", task)
    assert raised.value.status_code == 409


@pytest.mark.parametrize("value", ["1.99", "2.0", "0.9", "one"])
def test_a_level_or_pin_must_be_a_version_this_side_speaks(value):
    with pytest.raises((ValueError, PayloadError)):
        version_pin(value, "UPGRADE_LEVEL_SCHEDULER")
    assert version_pin("", "UPGRADE_LEVEL_SCHEDULER") == PAYLOAD_VERSION
    assert version_pin(previous_version(), "PAYLOAD_VERSION_PIN") == previous_version()
