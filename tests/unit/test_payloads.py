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
    ConsoleOutput,
    ConsoleRequest,
    FlavorSpec,
    HostReport,
    ImageSpec,
    InstanceSpec,
    PayloadError,
    SpawnResult,
    Terminated,
    TerminateRequest,
)
from tests.unit.helpers import instance_spec

INSTANCE = instance_spec(display_name="db-1")

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

EXPECTED_VERSION = "1.2"

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
