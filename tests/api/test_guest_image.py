"""The QEMU guest as images (`manage.py register_guest_image`): kernel and ramdisk
parts with file locations, a bootable `guest` naming them, and the paths in the
payload the compute gets."""

import base64
import hashlib

import pytest
from django.core.management import CommandError, call_command

from cloud.images.management.commands.register_guest_image import (
    GUEST_ID,
    KERNEL_ID,
    RAMDISK_ID,
)
from cloud.images.models import Image
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance
from cloud.instances.specs import instance_spec
from cloud.payloads import BuildRequest


@pytest.fixture
def guest_files(tmp_path):
    kernel, ramdisk = tmp_path / "vmlinux", tmp_path / "initrd.img"
    kernel.write_bytes(b"\x7fELF kernel")
    ramdisk.write_bytes(b"070701 cpio")
    return kernel, ramdisk


def _register(kernel, ramdisk) -> None:
    call_command("register_guest_image", "--kernel", str(kernel), "--ramdisk", str(ramdisk))


def test_registers_kernel_ramdisk_and_guest_once(seeded, guest_files):
    kernel, ramdisk = guest_files
    _register(kernel, ramdisk)
    _register(kernel, ramdisk)  # re-running updates in place

    assert Image.objects.filter(id__in=[KERNEL_ID, RAMDISK_ID, GUEST_ID]).count() == 3
    kernel_image = Image.objects.get(id=KERNEL_ID)
    assert (kernel_image.disk_format, kernel_image.status) == ("aki", "active")
    assert kernel_image.locations == [{"url": kernel.as_uri(), "metadata": {}}]
    assert kernel_image.size == len(kernel.read_bytes())
    assert kernel_image.checksum == hashlib.md5(kernel.read_bytes()).hexdigest()
    assert Image.objects.get(id=RAMDISK_ID).disk_format == "ari"
    guest = Image.objects.get(id=GUEST_ID)
    assert guest.name == "guest" and guest.disk_format == "ami"
    assert guest.properties["kernel_id"] == KERNEL_ID
    assert guest.properties["ramdisk_id"] == RAMDISK_ID


def test_missing_files_are_a_clear_error(seeded, tmp_path):
    with pytest.raises(CommandError, match="guest_image.py"):
        _register(tmp_path / "vmlinux", tmp_path / "initrd.img")


def test_a_server_of_the_guest_image_carries_the_kernel_paths(api, guest_files):
    kernel, ramdisk = guest_files
    _register(kernel, ramdisk)
    shown = api.get("/image/v2/images?name=guest").json()["images"]
    assert shown[0]["kernel_id"] == KERNEL_ID  # Glance shows the properties at the top

    response = api.post(
        "/compute/v2.1/servers",
        {"server": {"name": "g", "imageRef": GUEST_ID, "flavorRef": 1, "networks": "none"}},
        format="json",
        HTTP_OPENSTACK_API_VERSION="compute 2.37",
    )
    assert response.status_code == 202, response.content

    instance = Instance.objects.get(uuid=response.json()["server"]["id"])
    request = BuildRequest(instance=instance_spec(instance).to_dict(), request_id="req-1")
    image = BuildRequest.from_dict(request.to_dict()).instance_spec.image_spec
    assert image.kernel_file == str(kernel.resolve())
    assert image.ramdisk_file == str(ramdisk.resolve())


def test_the_tiny_image_boots_from_its_disk(api):
    response = api.post(
        "/compute/v2.1/servers",
        {"server": {"name": "t", "imageRef": TINY_IMAGE_ID, "flavorRef": 1, "networks": "none"}},
        format="json",
        HTTP_OPENSTACK_API_VERSION="compute 2.37",
    )
    instance = Instance.objects.get(uuid=response.json()["server"]["id"])
    assert instance_spec(instance).image_spec.kernel_file == ""


def test_a_server_with_a_config_drive_carries_it_and_its_user_data_to_the_host(api):
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    specs = {}
    for name, extra in (("with", {"config_drive": True, "user_data": user_data}), ("plain", {})):
        response = api.post(
            "/compute/v2.1/servers",
            {
                "server": {
                    "name": name,
                    "imageRef": TINY_IMAGE_ID,
                    "flavorRef": 1,
                    "networks": "none",
                    **extra,
                }
            },
            format="json",
            HTTP_OPENSTACK_API_VERSION="compute 2.37",
        )
        assert response.status_code == 202, response.content
        instance = Instance.objects.get(uuid=response.json()["server"]["id"])
        request = BuildRequest(instance=instance_spec(instance).to_dict(), request_id="req-1")
        specs[name] = BuildRequest.from_dict(request.to_dict()).instance_spec

    assert (specs["with"].config_drive, specs["with"].user_data) == (True, user_data)
    assert (specs["plain"].config_drive, specs["plain"].user_data) == (False, "")
    # A host one version behind gets neither (it builds the guest without a drive).
    old = BuildRequest(instance=specs["with"].to_dict(), request_id="req-1").to_dict("1.12")
    assert not {"config_drive", "user_data"} & set(old["instance"])
