"""cloud.payloads: messages round-trip, old and new minors interoperate, schemas are pinned."""

import dataclasses
import hashlib
import json
import typing

import pytest

from cloud import payloads
from cloud.payloads import (
    PAYLOAD_VERSION,
    ActionRequest,
    ActionResult,
    AgentReport,
    AttachVolumeRequest,
    BlockDevice,
    BuildFailure,
    BuildInstances,
    BuildRequest,
    ComputeStarted,
    ConnectionRequest,
    ConsoleOutput,
    ConsoleRequest,
    DetachVolumeRequest,
    FlavorSpec,
    FloatingIPMapping,
    GuestStates,
    HostReport,
    ImageSpec,
    InstanceSpec,
    InterfaceRequest,
    InterfaceResult,
    MigrationRequest,
    MigrationResult,
    MigrationTask,
    NetworkSetup,
    NetworkSync,
    NetworkTeardown,
    PayloadError,
    PortBinding,
    PortStatus,
    PortUnbinding,
    RebuildRequest,
    ReconcileRequest,
    SchedulerAnswer,
    SchedulingRequest,
    SnapshotRequest,
    SnapshotResult,
    SpawnResult,
    TaskProgress,
    Terminated,
    TerminateRequest,
    VifSpec,
    VolumeAttached,
    VolumeBackendReport,
    VolumeConnection,
    VolumeCreate,
    VolumeDetached,
    VolumeExtend,
    VolumeRef,
    VolumeResult,
    VolumeSnapshotRequest,
)
from tests.unit.helpers import instance_spec

INSTANCE = instance_spec(display_name="db-1")
VOLUME_ID = "0e4b8b38-6a1c-4d59-9a84-1d3c5c5f3b10"

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
        download_url="https://cloud.example.org/image/v2/images/9c7e3a5e-0000-4000-8000-000000000001/file",
        transfer_token="tok-1",
        os_hash_algo="sha512",
        os_hash_value="cf83e1357eefb8bdf1542850d66d8007",
        virtual_size=1073741824,
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
        image_cache=[
            {
                "image_id": "9c7e3a5e-0000-4000-8000-000000000001",
                "size": 12345,
                "last_used": "2024-05-01T12:00:00+00:00",
                "in_use": True,
            }
        ],
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
        upload_url="https://cloud.example.org/image/v2/images/6a1e8f0c-0000-4000-8000-000000000003/file",
        upload_token="tok-2",
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
        disk_upload={"url": "https://cloud.example.org/image/v2/images/x/file", "token": "tok-3"},
        disk_image={"id": "6a1e8f0c-0000-4000-8000-000000000004", "name": "resize-disk"},
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
    BuildInstances: BuildInstances(instance_uuids=[INSTANCE.uuid], request_id="req-13"),
    MigrationTask: MigrationTask(
        migration_uuid="5d7c1c8e-0000-4000-8000-000000000002", request_id="req-14"
    ),
    SchedulingRequest: SchedulingRequest(
        instance_uuid=INSTANCE.uuid,
        project_id="p1",
        resources={"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 20},
        user_id="u1",
        availability_zone="nova",
        forced_host="cmp-1",
        flavor_extra_specs={"aggregate_instance_extra_specs:ssd": "true"},
        image_properties={"hw_architecture": "x86_64"},
        group_uuid="0e2f3b4c-0000-4000-8000-000000000004",
        same_host=["1b2c3d4e-0000-4000-8000-000000000005"],
        different_host=["2c3d4e5f-0000-4000-8000-000000000006"],
        query='["<=", "$free_ram_mb", 1024]',
        ignore_hosts=["cmp-9"],
        request_id="req-15",
        attempt=2,
        migration_uuid="5d7c1c8e-0000-4000-8000-000000000002",
        same_host_hosts=["cmp-1"],
        different_host_hosts=["cmp-2"],
        group_hosts={"cmp-3": 2},
    ),
    SchedulerAnswer: SchedulerAnswer(
        instance_uuid=INSTANCE.uuid,
        request_id="req-15",
        host="cmp-1",
        alternates=["cmp-2", "cmp-3"],
        error=None,
        attempt=2,
        migration_uuid="5d7c1c8e-0000-4000-8000-000000000002",
    ),
}

PORT_ID = "3f0c6b1a-7d2e-4c1b-9a55-0e6f1d2c3b4a"
NETWORK_ID = "8a1b2c3d-0000-4000-8000-0000000000aa"
FIXED_IPS = [
    {
        "ip_address": "10.0.0.5",
        "subnet_id": "9b8c7d6e-0000-4000-8000-0000000000bb",
        "cidr": "10.0.0.0/24",
        "prefixlen": 24,
        "gateway_ip": "10.0.0.1",
        "version": 4,
    }
]
SAMPLES.update(
    {
        VifSpec: VifSpec(
            port_id=PORT_ID,
            network_id=NETWORK_ID,
            mac_address="fa:16:3e:12:34:56",
            devname="tap3f0c6b1a-7d",
            bridge="br-int",
            segmentation_id=101,
            mtu=1450,
            fixed_ips=FIXED_IPS,
        ),
        InterfaceRequest: InterfaceRequest(
            instance_uuid=INSTANCE.uuid,
            vif={
                "port_id": PORT_ID,
                "network_id": NETWORK_ID,
                "mac_address": "fa:16:3e:12:34:56",
                "devname": "tap3f0c6b1a-7d",
                "version": "1.10",
            },
        ),  # fmt: skip
        InterfaceResult: InterfaceResult(
            instance_uuid=INSTANCE.uuid, port_id=PORT_ID, done=True, live=True
        ),
        NetworkSetup: NetworkSetup(
            network_id=NETWORK_ID,
            name="private",
            project_id="p1",
            network_type="vlan",
            segmentation_id=101,
            physical_network="physnet1",
            mtu=1500,
            external=False,
            subnets=[
                {
                    "id": "9b8c7d6e-0000-4000-8000-0000000000bb",
                    "cidr": "10.0.0.0/24",
                    "ip_version": 4,
                    "prefixlen": 24,
                    "gateway_ip": "10.0.0.1",
                    "enable_dhcp": True,
                    "dns_nameservers": ["10.0.0.53"],
                    "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.254"}],
                }
            ],
            dhcp_port={
                "port_id": "7e6d5c4b-0000-4000-8000-0000000000cc",
                "mac_address": "fa:16:3e:aa:bb:cc",
                "devname": "tap7e6d5c4b-00",
                "fixed_ips": [{"ip_address": "10.0.0.2", "subnet_id": "9b8c", "prefixlen": 24}],
            },
            dhcp_hosts=[
                {
                    "mac_address": "fa:16:3e:12:34:56",
                    "ip_address": "10.0.0.5",
                    "hostname": "db-1",
                    "port_id": PORT_ID,
                }
            ],
        ),
        NetworkTeardown: NetworkTeardown(network_id=NETWORK_ID, segmentation_id=101),
        NetworkSync: NetworkSync(
            resource_id=PORT_ID, hosts=["cmp-1"], network_id=NETWORK_ID, request_id="req-16"
        ),
        PortBinding: PortBinding(
            port_id=PORT_ID,
            network_id=NETWORK_ID,
            host="cmp-1",
            mac_address="fa:16:3e:12:34:56",
            devname="tap3f0c6b1a-7d",
            segmentation_id=101,
            network_type="vlan",
            bridge="br-int",
            mtu=1500,
            fixed_ips=FIXED_IPS,
            instance_uuid=INSTANCE.uuid,
            device_owner="compute:nova",
            admin_state_up=True,
            port_security_enabled=True,
            security_group_ids=["5c4b3a29-0000-4000-8000-0000000000dd"],
            security_group_rules=[
                {
                    "id": "r1",
                    "direction": "ingress",
                    "ethertype": "IPv4",
                    "protocol": "tcp",
                    "port_range_min": 22,
                    "port_range_max": 22,
                    "remote_ip_prefixes": ["0.0.0.0/0"],
                }
            ],
            allowed_address_pairs=[{"ip_address": "10.0.0.99", "mac_address": "fa:16:3e:12:34:56"}],
        ),
        PortUnbinding: PortUnbinding(
            port_id=PORT_ID,
            network_id=NETWORK_ID,
            host="cmp-1",
            devname="tap3f0c6b1a-7d",
            mac_address="fa:16:3e:12:34:56",
        ),
        FloatingIPMapping: FloatingIPMapping(
            floating_ip_id="4a3b2c1d-0000-4000-8000-0000000000ee",
            floating_ip_address="172.24.4.10",
            floating_network_id="1a2b3c4d-0000-4000-8000-0000000000ff",
            host="cmp-1",
            port_id=PORT_ID,
            fixed_ip_address="10.0.0.5",
            floating_segmentation_id=None,
            floating_prefixlen=24,
            floating_gateway_ip="172.24.4.1",
            network_id=NETWORK_ID,
            segmentation_id=101,
        ),
        PortStatus: PortStatus(
            port_id=PORT_ID,
            host="cmp-1",
            status="ACTIVE",
            message="",
            sent_at="2024-05-01T12:00:00+00:00",
        ),
        AgentReport: AgentReport(
            host="cmp-1",
            payload_version="1.9",
            bridge="br-int",
            started_at="2024-05-01T12:00:00+00:00",
            sent_at="2024-05-01T12:00:05+00:00",
            capabilities={"dhcp": True, "security_groups": True, "nat": True},
        ),
        VolumeRef: VolumeRef(
            volume_id=VOLUME_ID, backend="file", size=1, provider_location="/v/volume-1"
        ),
        VolumeCreate: VolumeCreate(
            volume_id=VOLUME_ID,
            backend="file",
            size=2,
            image={"id": "img-1", "name": "tiny", "download_url": "http://x/file"},
            request_id="req-1",
        ),
        VolumeExtend: VolumeExtend(
            volume_id=VOLUME_ID, backend="file", provider_location="/v/volume-1", new_size=3
        ),
        VolumeSnapshotRequest: VolumeSnapshotRequest(
            snapshot_id="snap-1", volume_id=VOLUME_ID, backend="file", volume_location="/v/1"
        ),
        ConnectionRequest: ConnectionRequest(
            attachment_id="att-1",
            volume_id=VOLUME_ID,
            backend="nbd",
            host="cmp-1",
            provider_location="/v/volume-1",
            instance_uuid=INSTANCE.uuid,
        ),
        VolumeResult: VolumeResult(
            volume_id=VOLUME_ID, backend="file", provider_location="/v/volume-1", size=2
        ),
        VolumeConnection: VolumeConnection(
            attachment_id="att-1",
            volume_id=VOLUME_ID,
            host="cmp-1",
            connection={"driver_volume_type": "nbd", "host": "10.0.0.2", "port": 10809},
        ),
        VolumeBackendReport: VolumeBackendReport(
            backend="file",
            host="vol-1",
            driver="file",
            total_capacity_gb=100.0,
            free_capacity_gb=90.5,
            sent_at="2024-05-01T12:00:05+00:00",
        ),
    }
)

VOLUME_ID = "6f1b2c3d-0000-4000-8000-0000000000aa"
ATTACHMENT_ID = "7a2b3c4d-0000-4000-8000-0000000000ab"
NBD = {
    "driver_volume_type": "nbd",
    "host": "10.0.0.5",
    "port": 10809,
    "export_name": VOLUME_ID,
    "format": "raw",
}
SAMPLES.update(
    {
        BlockDevice: BlockDevice(
            volume_id=VOLUME_ID,
            attachment_id=ATTACHMENT_ID,
            connection=NBD,
            device="vda",
            boot_index=0,
        ),
        AttachVolumeRequest: AttachVolumeRequest(
            instance_uuid=INSTANCE.uuid,
            request_id="req-v1",
            volume_id=VOLUME_ID,
            attachment_id=ATTACHMENT_ID,
            connection=NBD,
            device="/dev/vdb",
        ),
        DetachVolumeRequest: DetachVolumeRequest(
            instance_uuid=INSTANCE.uuid,
            request_id="req-v2",
            volume_id=VOLUME_ID,
            attachment_id=ATTACHMENT_ID,
        ),
        VolumeAttached: VolumeAttached(
            instance_uuid=INSTANCE.uuid,
            host="cmp-1",
            request_id="req-v1",
            volume_id=VOLUME_ID,
            attachment_id=ATTACHMENT_ID,
            device="/dev/vdb",
        ),
        VolumeDetached: VolumeDetached(
            instance_uuid=INSTANCE.uuid,
            host="cmp-1",
            request_id="req-v2",
            volume_id=VOLUME_ID,
            attachment_id=ATTACHMENT_ID,
            message="libvirt said no",
            details="Traceback ...",
        ),
    }
)

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
    data = {**sample.to_dict(), "version": "1.8", "field_from_the_future": {"x": [1, 2]}}

    assert cls.from_dict(data) == sample


@pytest.mark.parametrize("version", ["2.0", "0.9", None, 1.0, "", "v1.0"])
@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_other_major_or_missing_version_is_refused(cls, version):
    data = SAMPLES[cls].to_dict()
    if version is None:
        del data["version"]
        if cls.UNVERSIONED:  # a plain dict before 1.6: read as the version it was then
            assert cls.from_dict(data) == SAMPLES[cls]
            return
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


def test_consoles_reach_a_1_7_conductor_and_a_1_6_peer_gets_none():
    consoles = {"vnc": {"host": "192.0.2.5", "port": 5901}}
    result = SpawnResult(
        instance_uuid=INSTANCE.uuid,
        host="cmp-1",
        request_id="req-1",
        power_state=1,
        consoles=consoles,
    )
    assert SpawnResult.from_dict(result.to_dict()).consoles == consoles
    assert "consoles" not in result.to_dict("1.6")
    # A 1.6 compute's outcome reports nothing: the conductor keeps what it had.
    assert SpawnResult.from_dict(result.to_dict("1.6")).consoles is None
    assert (
        ActionResult.from_dict(
            {
                "version": "1.6",
                "instance_uuid": "u",
                "host": "h",
                "request_id": "r",
                "action": "stop",
                "task_state": "powering-off",
                "power_state": 4,
            }
        ).consoles
        is None
    )


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
# here, as "<the version that last changed it>-<hash of kind, since and each
# field's name, type and since>". If this test fails you changed a message
# format. Bump PAYLOAD_VERSION (a new minor for an added optional field, marked
# with since(); a new major for anything an older reader cannot ignore), add a
# line to the History in cloud/payloads.py, then update the expectations below.

EXPECTED_VERSION = "1.13"

EXPECTED_FINGERPRINTS = {
    "FlavorSpec": "1.0-c63fecd98a71b459c1eba8993d494bd8",
    "ImageSpec": "1.7-9b1da89839132ddca72277fb6dbcd9ae",
    "InstanceSpec": "1.13-5cdfc60193fb33d8711bdb237283cb94",
    "BuildRequest": "1.0-60d854e775018924f7ecb5e7d8a738bb",
    "TerminateRequest": "1.0-18d46969d22379d878c33d46ce95cf5e",
    "SpawnResult": "1.8-9d2edd5506b848e4b3a75ffdd657817d",
    "BuildFailure": "1.0-64a741b135b778101d67a541efa0abb8",
    "Terminated": "1.0-4eaafa79551ff17fcd229455f403c64a",
    "HostReport": "1.7-bee357c6fc91010a3ee10415d8225df6",
    "ActionRequest": "1.2-bede8238229a338446c78ca42c1fc431",
    "ActionResult": "1.8-8b9c0c432af891498bbce1209fe827aa",
    "ConsoleRequest": "1.2-06fb0abde17127a9f64823cde426a0af",
    "ConsoleOutput": "1.2-191826d62e68950b202cd92fb874f118",
    "RebuildRequest": "1.3-e4b4617409c3563ea46c5acb53c4f9bf",
    "SnapshotRequest": "1.7-6b86260514340bb97706ab8924e81408",
    "TaskProgress": "1.3-a1c58d646f7f6167393a9e4e3d043c4f",
    "SnapshotResult": "1.3-3a8ab846d61e14123b3a1fb11e0acb0b",
    "MigrationRequest": "1.7-43ef699696b1c46cc444a706bbd68727",
    "MigrationResult": "1.8-6af41bcf6740782e40f4978d35073173",
    "GuestStates": "1.5-7f83ad73d29cccb91bed35618e12e2ce",
    "ComputeStarted": "1.5-f889ee7e7ed64a8e7392cb5a6bccd100",
    "ReconcileRequest": "1.5-4eedced5b7b21fa3d7afab11c838b103",
    "BuildInstances": "1.0-5b3b297e16a05782b4c56a3f0b0e21d7",
    "MigrationTask": "1.3-37edbb12335b301bf054e9d2bb6b1b5b",
    "SchedulingRequest": "1.6-b486f78add4dbfecc3ec5d0405065e04",
    "SchedulerAnswer": "1.0-a87c487216506df7a06d1f36c93b1af0",
    "VifSpec": "1.9-1d433217f0a550043da85628ead03c1e",
    "InterfaceRequest": "1.10-25f98acf23881953a6fd0e68722436c7",
    "InterfaceResult": "1.10-df2e59605748beec1e97d45bbedef6f7",
    "NetworkSetup": "1.9-83cc7f13a1a21b6f1585a13b5a5f6942",
    "NetworkTeardown": "1.9-34a9a12f982896e0f43eab82c148688f",
    "NetworkSync": "1.9-ee920f807cf029c5cf57ae3be1dd91f8",
    "PortBinding": "1.9-ddc6361f7dcea1213f58623674becb8d",
    "PortUnbinding": "1.9-91c7137b59e5a53745f7b80f64b8a6f8",
    "FloatingIPMapping": "1.9-62623ca99c2589d98107baf70ddf5163",
    "PortStatus": "1.9-dd52a05f68f929ca6b8442aece2d80d3",
    "AgentReport": "1.9-2be58b58a9ec78ff4873d0751f7ecdbe",
    "VolumeRef": "1.11-4a628c2e0fefe722c04ad521208e3ff5",
    "VolumeCreate": "1.11-3dcad3c893807605ac91333bbff4810b",
    "VolumeExtend": "1.11-fc9e5e81cb26ef0a954420c4b15d9460",
    "VolumeSnapshotRequest": "1.11-e59f44fe1f7acbd628531405a3190d21",
    "ConnectionRequest": "1.11-ae10e80fe88731f3758b36d73e4458b1",
    "VolumeResult": "1.11-ad0f83b612dddba42f9fc1ccb22767b1",
    "VolumeConnection": "1.11-dac2042e0e087132c3b5fe16b7d36e51",
    "VolumeBackendReport": "1.11-72bf13b94101e0cc8cd68ab6f6a48454",
    "BlockDevice": "1.12-e0dbeadeed1a1d4ae12b6eaa2f3fdbba",
    "AttachVolumeRequest": "1.12-4529c8107f40dd468219c9e1331cf0ce",
    "DetachVolumeRequest": "1.12-33809f3b39778042b2c87d21adc1214b",
    "VolumeAttached": "1.12-01a827341cd794ee65f3e42e0e2c954a",
    "VolumeDetached": "1.12-0fbc308b953893ffe631c866d398bb83",
}


def _annotation(tp: object) -> str:
    """A stable spelling of a type annotation: `int`, `dict[str, typing.Any]`, `int | None`."""
    if isinstance(tp, str):
        return tp
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return str(tp)


def _class_version(cls: type) -> str:
    """The version that last changed the class: it was added, or a field was."""
    added = [f.metadata.get("since", "1.0") for f in dataclasses.fields(cls)]
    return max([cls.SINCE, *added], key=payloads.version_key)


def _fingerprint(cls: type) -> str:
    """Nova's "<version>-<hash of the schema>": the kind, since when, and each field's
    name, type and since."""
    schema = [
        cls.KIND,
        cls.SINCE,
        cls.UNVERSIONED,
        sorted(
            (f.name, _annotation(f.type), f.metadata.get("since", "1.0"))
            for f in dataclasses.fields(cls)
        ),
    ]
    digest = hashlib.md5(json.dumps(schema).encode(), usedforsecurity=False).hexdigest()
    return f"{_class_version(cls)}-{digest}"


def test_payload_version_is_pinned_with_the_fingerprints():
    assert PAYLOAD_VERSION == EXPECTED_VERSION
    assert EXPECTED_VERSION.split(".")[0] == payloads.MAJOR


def test_fingerprints_cover_every_payload_class():
    assert set(EXPECTED_FINGERPRINTS) == {cls.__name__ for cls in PAYLOAD_CLASSES}


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_schema_fingerprint(cls):
    expected, found = EXPECTED_FINGERPRINTS[cls.__name__], _fingerprint(cls)
    if expected.split("-")[0] == found.split("-")[0]:
        assert found == expected, (
            f"{cls.__name__} changed shape without a new version: give what you added "
            f"since(<the next version>), bump PAYLOAD_VERSION, record the change and how "
            f"an older peer is served in the History of cloud/payloads.py, then set "
            f"EXPECTED_FINGERPRINTS[{cls.__name__!r}] = {found!r}"
        )
    assert found == expected, (
        f"{cls.__name__} is now {found}: record it in the History of cloud/payloads.py "
        f"and update EXPECTED_FINGERPRINTS"
    )


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda c: c.__name__)
def test_no_class_is_newer_than_the_payload_version(cls):
    assert payloads.version_key(_class_version(cls)) <= payloads.version_key(PAYLOAD_VERSION)


def test_the_fingerprint_sees_a_field_added_without_a_version():
    @dataclasses.dataclass(frozen=True)
    class Grown(TerminateRequest):
        reason: str = ""

    assert _fingerprint(Grown).split("-")[0] == _fingerprint(TerminateRequest).split("-")[0]
    assert _fingerprint(Grown) != _fingerprint(TerminateRequest)


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


def test_an_instance_spec_carries_its_interfaces_to_a_1_9_host_only():
    vif = SAMPLES[VifSpec]
    spec = dataclasses.replace(INSTANCE, ports=[vif.to_dict()])
    wire = json.loads(json.dumps(BuildRequest(instance=spec.to_dict(), request_id="r").to_dict()))
    assert BuildRequest.from_dict(wire).instance_spec.vifs == [vif]
    old = BuildRequest(instance=spec.to_dict(), request_id="r").to_dict("1.8")
    assert "ports" not in old["instance"]
    assert BuildRequest.from_dict(old).instance_spec.vifs == []


def test_network_agent_messages_are_never_sent_to_a_1_8_host():
    for cls in (NetworkSetup, NetworkTeardown, PortBinding, PortUnbinding, FloatingIPMapping):
        with pytest.raises(payloads.PayloadTooNew):
            SAMPLES[cls].to_dict("1.8")
    with pytest.raises(payloads.PayloadTooNew):
        PortStatus.from_dict(SAMPLES[PortStatus].to_dict(), speaks="1.8")
