"""cloud.payloads: messages round-trip, old and new minors interoperate, schemas are pinned."""

import dataclasses
import json
import typing

import pytest

from cloud import payloads
from cloud.payloads import (
    PAYLOAD_VERSION,
    ActionRequest,
    ActionResult,
    BuildFailure,
    BuildRequest,
    ComputeStarted,
    ConsoleOutput,
    ConsoleRequest,
    FlavorSpec,
    GuestStates,
    HostReport,
    ImageSpec,
    InstanceSpec,
    MigrationRequest,
    MigrationResult,
    PayloadError,
    RebuildRequest,
    ReconcileRequest,
    SnapshotRequest,
    SnapshotResult,
    SpawnResult,
    TaskProgress,
    Terminated,
    TerminateRequest,
)
from tests.unit.helpers import instance_spec

INSTANCE = instance_spec(display_name="db-1")

GUESTS = GuestStates(
    host="cmp-1",
    guests={INSTANCE.uuid: 1, "5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11": 4},
    sampled_at="2024-05-01T12:00:00+00:00",
)
HOST_REPORT = HostReport(
    host="cmp-1",
    hypervisor_type="TEST",
    hypervisor_version=9000000,
    hypervisor_hostname="cmp-1",
    libvirt_uri="test:///default",
    vcpus=4,
    memory_mb=4096,
    local_gb=100,
)

SAMPLES: dict[type, payloads.Payload] = {
    FlavorSpec: FlavorSpec(
        name="m1.large",
        memory_mb=8192,
        vcpus=4,
        root_gb=80,
        ephemeral_gb=10,
        swap=512,
        extra_specs={"hw:cpu_policy": "dedicated"},
    ),
    ImageSpec: ImageSpec(
        id="9c7e3a5e-0000-4000-8000-000000000001",
        name="ubuntu",
        disk_format="qcow2",
        container_format="bare",
        size=12345,
        min_disk=3,
        properties={"architecture": "aarch64", "hw_disk_bus": "virtio"},
        kernel_file="/var/lib/stratus/images/vmlinux",
        ramdisk_file="/var/lib/stratus/images/initrd.img",
    ),
    InstanceSpec: INSTANCE,
    BuildRequest: BuildRequest(instance=INSTANCE.to_dict(), request_id="req-3f1c0a2e", attempt=2),
    TerminateRequest: TerminateRequest(
        instance_uuid=INSTANCE.uuid, name=INSTANCE.name, request_id="req-1"
    ),
    SpawnResult: SpawnResult(
        instance_uuid=INSTANCE.uuid, host="cmp-1", request_id="req-2", power_state=1, attempt=3
    ),
    BuildFailure: BuildFailure(
        instance_uuid=INSTANCE.uuid,
        host="cmp-1",
        request_id="req-3",
        attempt=2,
        message="libvirt said no",
        details="Traceback ...",
    ),
    Terminated: Terminated(instance_uuid=INSTANCE.uuid, host="cmp-1", request_id="req-4"),
    HostReport: HostReport(
        host="cmp-1",
        hypervisor_type="QEMU",
        hypervisor_version=8002000,
        hypervisor_hostname="cmp-1.example.org",
        libvirt_uri="qemu:///system",
        vcpus=32,
        memory_mb=131072,
        local_gb=900,
        cpu_info={"arch": "x86_64", "mhz": 2400},
        payload_version="1.0",
        started_at="2024-05-01T12:00:00+00:00",
        capabilities={"supports_snapshot": True, "supports_console_output": True},
    ),
    ActionRequest: ActionRequest(
        instance_uuid=INSTANCE.uuid,
        name=INSTANCE.name,
        request_id="req-5",
        action="reboot_hard",
        task_state="rebooting_hard",
        hard=True,
    ),
    ActionResult: ActionResult(
        instance_uuid=INSTANCE.uuid,
        host="cmp-1",
        request_id="req-6",
        action="pause",
        task_state="pausing",
        power_state=None,
        message="libvirt said no",
        details="Traceback ...",
    ),
    ConsoleRequest: ConsoleRequest(instance_uuid=INSTANCE.uuid, length=10),
    ConsoleOutput: ConsoleOutput(available=False, output="", message="no console log"),
    RebuildRequest: RebuildRequest(
        instance=INSTANCE.to_dict(),
        request_id="req-8",
        action="evacuate",
        task_state="rebuilding",
        stopped=True,
    ),
    SnapshotRequest: SnapshotRequest(
        instance_uuid=INSTANCE.uuid,
        name=INSTANCE.name,
        request_id="req-9",
        image_id="6a1e8f0c-0000-4000-8000-000000000003",
        task_state="image_snapshot",
        disk_format="raw",
    ),
    TaskProgress: TaskProgress(
        instance_uuid=INSTANCE.uuid,
        host="cmp-1",
        request_id="req-9",
        action="create_image",
        step="image_uploading",
        progress=75,
        image_id="6a1e8f0c-0000-4000-8000-000000000003",
    ),
    SnapshotResult: SnapshotResult(
        instance_uuid=INSTANCE.uuid,
        host="cmp-1",
        request_id="req-9",
        image_id="6a1e8f0c-0000-4000-8000-000000000003",
        path="/var/lib/stratus/images/6a1e8f0c-0000-4000-8000-000000000003.qcow2",
        size=196616,
        checksum="d41d8cd98f00b204e9800998ecf8427e",
        os_hash_value="cf83e1357eefb8bdf1542850d66d8007",
    ),
    MigrationRequest: MigrationRequest(
        migration_uuid="5d7c1c8e-0000-4000-8000-000000000002",
        instance_uuid=INSTANCE.uuid,
        request_id="req-7",
        instance=INSTANCE.to_dict(),
        power_on=False,
    ),
    MigrationResult: MigrationResult(
        migration_uuid="5d7c1c8e-0000-4000-8000-000000000002",
        instance_uuid=INSTANCE.uuid,
        host="cmp-2",
        request_id="req-7",
        step="finish_resize",
        power_state=4,
    ),
    GuestStates: GUESTS,
    ComputeStarted: ComputeStarted(report=HOST_REPORT.to_dict(), guests=GUESTS.to_dict()),
    ReconcileRequest: ReconcileRequest(
        host="cmp-1",
        builds=[BuildRequest(instance=INSTANCE.to_dict(), request_id="req-10").to_dict()],
        actions=[
            ActionRequest(
                instance_uuid=INSTANCE.uuid,
                name=INSTANCE.name,
                request_id="req-11",
                action="stop",
                task_state="powering-off",
            ).to_dict()
        ],
        terminations=[
            TerminateRequest(
                instance_uuid=INSTANCE.uuid, name=INSTANCE.name, request_id="req-12"
            ).to_dict()
        ],
    ),
}

PAYLOAD_CLASSES = list(SAMPLES)


def test_every_payload_class_has_a_sample():
    defined = {
        obj
        for obj in vars(payloads).values()
        if isinstance(obj, type)
        and issubclass(obj, payloads.Payload)
        and dataclasses.is_dataclass(obj)
    }
    assert defined == set(PAYLOAD_CLASSES)


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_round_trip_through_json(cls):
    sample = SAMPLES[cls]
    data = json.loads(json.dumps(sample.to_dict()))

    assert data["version"] == PAYLOAD_VERSION
    restored = cls.from_dict(data)
    assert restored == sample
    assert restored is not sample


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_to_dict_holds_every_field_and_the_version(cls):
    data = SAMPLES[cls].to_dict()
    assert set(data) == {f.name for f in dataclasses.fields(cls)} | {"version"}


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_newer_minor_with_unknown_field_is_read(cls):
    sample = SAMPLES[cls]
    data = {**sample.to_dict(), "version": "1.7", "field_from_the_future": {"x": [1, 2]}}

    assert cls.from_dict(data) == sample


@pytest.mark.parametrize("version", ["2.0", "0.9", None, 1.0, "", "v1.0"])
@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_other_major_or_missing_version_is_refused(cls, version):
    data = SAMPLES[cls].to_dict()
    if version is None:
        del data["version"]
    else:
        data["version"] = version

    with pytest.raises(PayloadError, match="unsupported payload version"):
        cls.from_dict(data)


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_missing_required_field_is_refused(cls):
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    assert required, "every payload has at least one required field"
    data = SAMPLES[cls].to_dict()
    del data[required[0]]

    with pytest.raises(PayloadError, match=required[0]):
        cls.from_dict(data)


@pytest.mark.parametrize("bad", [None, [], "{}", 42, [("version", "1.0")]])
@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_non_object_is_refused(cls, bad):
    with pytest.raises(PayloadError, match="expected an object"):
        cls.from_dict(bad)


def test_payload_error_is_a_value_error():
    assert issubclass(PayloadError, ValueError)


def test_defaults_fill_fields_an_older_writer_did_not_send():
    request = BuildRequest.from_dict(
        {"version": "1.0", "instance": INSTANCE.to_dict(), "request_id": "req-9"}
    )
    assert request.attempt == 1
    flavor = FlavorSpec.from_dict(
        {"version": "1.0", "name": "tiny", "memory_mb": 64, "vcpus": 1, "root_gb": 0}
    )
    assert (flavor.ephemeral_gb, flavor.swap, flavor.extra_specs) == (0, 0, {})


def test_an_action_request_from_an_older_writer_is_a_soft_one():
    request = ActionRequest.from_dict(
        {
            "version": "1.2",
            "instance_uuid": INSTANCE.uuid,
            "name": INSTANCE.name,
            "request_id": "req-7",
            "action": "reboot",
            "task_state": "rebooting",
        }
    )
    assert request.hard is False


def test_a_1_1_heartbeat_is_still_read():
    # A compute one minor older (1.1) still reports in to a 1.2 control plane.
    old = {k: v for k, v in SAMPLES[HostReport].to_dict().items() if k != "sent_at"}
    report = HostReport.from_dict({**old, "version": "1.1"})
    assert report.host == "cmp-1" and report.sent_at == ""


def test_an_image_spec_from_a_1_1_writer_boots_from_its_disk():
    old = {k: v for k, v in SAMPLES[ImageSpec].to_dict().items() if not k.endswith("_file")}
    image = ImageSpec.from_dict({**old, "version": "1.1"})
    assert (image.kernel_file, image.ramdisk_file) == ("", "")


def test_build_request_instance_spec():
    request = SAMPLES[BuildRequest]
    assert request.instance_spec == INSTANCE


def test_instance_spec_from_a_payload_without_a_version_inside():
    # The conductor embeds the instance dict; its own "version" is optional.
    inner = {k: v for k, v in INSTANCE.to_dict().items() if k != "version"}
    request = BuildRequest(instance=inner, request_id="req-5")
    assert request.instance_spec == INSTANCE


def test_build_request_instance_spec_missing_field_is_a_payload_error():
    inner = INSTANCE.to_dict()
    del inner["uuid"]
    request = BuildRequest(instance=inner, request_id="req-6")
    with pytest.raises(PayloadError, match="uuid"):
        _ = request.instance_spec


def test_instance_spec_flavor_and_image_specs():
    flavor = INSTANCE.flavor_spec
    image = INSTANCE.image_spec

    assert flavor == FlavorSpec(
        name="m1.small",
        memory_mb=512,
        vcpus=2,
        root_gb=1,
        ephemeral_gb=0,
        swap=0,
        extra_specs={},
    )
    assert image == ImageSpec(
        id="0b6b4a53-5c0e-4c3c-9d83-3c2a8e0f7a11",
        name="cirros",
        disk_format="qcow2",
        container_format="bare",
        size=1024,
        min_disk=0,
        properties={},
    )


def test_flavor_spec_ignores_extra_keys_in_the_embedded_flavor():
    spec = dataclasses.replace(
        INSTANCE, flavor={**INSTANCE.flavor, "flavorid": "42", "is_public": True}
    )
    assert spec.flavor_spec.memory_mb == 512
    assert not hasattr(spec.flavor_spec, "flavorid")


def test_flavor_spec_missing_memory_is_a_payload_error():
    flavor = {k: v for k, v in INSTANCE.flavor.items() if k != "memory_mb"}
    spec = dataclasses.replace(INSTANCE, flavor=flavor)
    with pytest.raises(PayloadError, match="memory_mb"):
        _ = spec.flavor_spec


def test_payloads_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SAMPLES[SpawnResult].power_state = 4  # type: ignore[misc]


# -- fingerprints ----------------------------------------------------------
#
# In the manner of Nova's test_objects.py: every payload's schema is pinned
# here. If this test fails you changed a message format. Bump
# PAYLOAD_VERSION (a new minor for an added optional field, a new major for
# anything an older reader cannot ignore), add a line to the History in
# cloud/payloads.py, then update the expectations below.

EXPECTED_VERSION = "1.5"

EXPECTED_FINGERPRINTS = {
    "FlavorSpec": [
        ("ephemeral_gb", "int"),
        ("extra_specs", "dict[str, str]"),
        ("memory_mb", "int"),
        ("name", "str"),
        ("root_gb", "int"),
        ("swap", "int"),
        ("vcpus", "int"),
    ],
    "ImageSpec": [
        ("container_format", "str"),
        ("disk_format", "str"),
        ("id", "str"),
        ("kernel_file", "str"),
        ("min_disk", "int"),
        ("name", "str"),
        ("properties", "dict[str, typing.Any]"),
        ("ramdisk_file", "str"),
        ("size", "int | None"),
    ],
    "InstanceSpec": [
        ("display_name", "str"),
        ("flavor", "dict[str, typing.Any]"),
        ("hostname", "str"),
        ("image", "dict[str, typing.Any]"),
        ("metadata", "dict[str, str]"),
        ("name", "str"),
        ("project_id", "str"),
        ("user_id", "str"),
        ("uuid", "str"),
    ],
    "BuildRequest": [
        ("attempt", "int"),
        ("instance", "dict[str, typing.Any]"),
        ("request_id", "str"),
    ],
    "TerminateRequest": [
        ("instance_uuid", "str"),
        ("name", "str"),
        ("request_id", "str"),
    ],
    "SpawnResult": [
        ("attempt", "int"),
        ("host", "str"),
        ("instance_uuid", "str"),
        ("power_state", "int"),
        ("request_id", "str"),
    ],
    "BuildFailure": [
        ("attempt", "int"),
        ("details", "str"),
        ("host", "str"),
        ("instance_uuid", "str"),
        ("message", "str"),
        ("request_id", "str"),
    ],
    "Terminated": [
        ("host", "str"),
        ("instance_uuid", "str"),
        ("request_id", "str"),
    ],
    "HostReport": [
        ("capabilities", "dict[str, bool]"),
        ("cpu_info", "dict[str, typing.Any]"),
        ("host", "str"),
        ("hypervisor_hostname", "str"),
        ("hypervisor_type", "str"),
        ("hypervisor_version", "int"),
        ("libvirt_uri", "str"),
        ("local_gb", "int"),
        ("memory_mb", "int"),
        ("payload_version", "str"),
        ("sent_at", "str"),
        ("started_at", "str"),
        ("vcpus", "int"),
    ],
    "ActionRequest": [
        ("action", "str"),
        ("hard", "bool"),
        ("instance_uuid", "str"),
        ("name", "str"),
        ("request_id", "str"),
        ("task_state", "str"),
    ],
    "ActionResult": [
        ("action", "str"),
        ("details", "str"),
        ("host", "str"),
        ("instance_uuid", "str"),
        ("message", "str"),
        ("power_state", "int | None"),
        ("request_id", "str"),
        ("task_state", "str"),
    ],
    "ConsoleRequest": [
        ("instance_uuid", "str"),
        ("length", "int | None"),
    ],
    "ConsoleOutput": [
        ("available", "bool"),
        ("message", "str"),
        ("output", "str"),
    ],
    "RebuildRequest": [
        ("action", "str"),
        ("instance", "dict[str, typing.Any]"),
        ("request_id", "str"),
        ("stopped", "bool"),
        ("task_state", "str"),
    ],
    "SnapshotRequest": [
        ("disk_format", "str"),
        ("image_id", "str"),
        ("instance_uuid", "str"),
        ("name", "str"),
        ("request_id", "str"),
        ("task_state", "str"),
    ],
    "TaskProgress": [
        ("action", "str"),
        ("host", "str"),
        ("image_id", "str"),
        ("instance_uuid", "str"),
        ("progress", "int | None"),
        ("request_id", "str"),
        ("step", "str"),
    ],
    "SnapshotResult": [
        ("checksum", "str"),
        ("details", "str"),
        ("host", "str"),
        ("image_id", "str"),
        ("instance_uuid", "str"),
        ("message", "str"),
        ("os_hash_value", "str"),
        ("path", "str"),
        ("request_id", "str"),
        ("size", "int | None"),
    ],
    "MigrationRequest": [
        ("instance", "dict[str, typing.Any]"),
        ("instance_uuid", "str"),
        ("migration_uuid", "str"),
        ("power_on", "bool"),
        ("request_id", "str"),
    ],
    "MigrationResult": [
        ("details", "str"),
        ("host", "str"),
        ("instance_uuid", "str"),
        ("message", "str"),
        ("migration_uuid", "str"),
        ("power_state", "int | None"),
        ("request_id", "str"),
        ("step", "str"),
    ],
    "GuestStates": [
        ("guests", "dict[str, int]"),
        ("host", "str"),
        ("sampled_at", "str"),
    ],
    "ComputeStarted": [
        ("guests", "dict[str, typing.Any]"),
        ("report", "dict[str, typing.Any]"),
    ],
    "ReconcileRequest": [
        ("actions", "list[dict[str, typing.Any]]"),
        ("builds", "list[dict[str, typing.Any]]"),
        ("host", "str"),
        ("terminations", "list[dict[str, typing.Any]]"),
    ],
}


def _annotation(tp: object) -> str:
    """A stable spelling of a type annotation: `int`, `dict[str, typing.Any]`, `int | None`."""
    if isinstance(tp, str):
        return tp
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return str(tp)


def _fingerprint(cls: type) -> list[tuple[str, str]]:
    return sorted((f.name, _annotation(f.type)) for f in dataclasses.fields(cls))


def test_payload_version_is_pinned_with_the_fingerprints():
    assert PAYLOAD_VERSION == EXPECTED_VERSION
    assert EXPECTED_VERSION.split(".")[0] == payloads.MAJOR


def test_fingerprints_cover_every_payload_class():
    assert set(EXPECTED_FINGERPRINTS) == {cls.__name__ for cls in PAYLOAD_CLASSES}


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_schema_fingerprint(cls):
    assert _fingerprint(cls) == EXPECTED_FINGERPRINTS[cls.__name__], (
        f"{cls.__name__} changed shape: bump PAYLOAD_VERSION, record it in the "
        f"module History, then update EXPECTED_FINGERPRINTS"
    )


def test_a_resize_step_is_never_sent_to_a_1_3_host():
    with pytest.raises(payloads.PayloadTooNew):
        SAMPLES[MigrationRequest].to_dict("1.3")
    with pytest.raises(payloads.PayloadTooNew):
        MigrationResult.from_dict(SAMPLES[MigrationResult].to_dict(), speaks="1.3")


def test_a_resize_step_carries_the_guest_to_define_or_nothing():
    wire = json.loads(json.dumps(SAMPLES[MigrationRequest].to_dict()))
    request = MigrationRequest.from_dict(wire)
    assert request.instance_spec == INSTANCE
    assert request.power_on is False
    bare = MigrationRequest.from_dict(
        {"version": "1.4", "migration_uuid": "m", "instance_uuid": "i", "request_id": "r"}
    )
    assert (bare.instance, bare.power_on) == ({}, True)


def test_a_compute_started_message_carries_a_heartbeat_and_the_guests():
    started = ComputeStarted.from_dict(json.loads(json.dumps(SAMPLES[ComputeStarted].to_dict())))
    assert started.host_report == HOST_REPORT
    assert started.guest_states == GUESTS


def test_a_reconcile_request_carries_the_work_as_its_messages():
    request = ReconcileRequest.from_dict(
        json.loads(json.dumps(SAMPLES[ReconcileRequest].to_dict()))
    )
    [build] = request.build_requests
    assert build.instance_spec == INSTANCE and build.attempt == 1
    [action] = request.action_requests
    assert (action.action, action.task_state, action.hard) == ("stop", "powering-off", False)
    [termination] = request.terminate_requests
    assert termination.request_id == "req-12"


def test_periodic_messages_are_never_sent_to_a_1_4_host():
    for cls in (GuestStates, ComputeStarted, ReconcileRequest):
        with pytest.raises(payloads.PayloadTooNew):
            SAMPLES[cls].to_dict("1.4")
