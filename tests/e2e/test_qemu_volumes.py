"""Volumes on real QEMU guests, with the unmodified `openstack` CLI: a new volume is
hot-plugged into a running guest, whose init (deploy/guest_image.py) prints the new
disk's size on its serial console and writes a marker to it; detached (the guest sees
the disk go), attached to a second running guest, which reads the marker back. And a
guest boots from a volume made from an image: its root disk is the volume.

The figures printed: the attach and detach round trips (the CLI's command to the
volume `in-use` / `available`, and to the guest's console line).
"""

import json
import re
import time

import libvirt
import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_qemu_disks import _marker_disk, _marker_seen
from tests.e2e.test_qemu_guest import URI, _new_boot, _settled

pytestmark = pytest.mark.e2e

GiB = 1024**3


def _volume(stack: RunningStack, name: str) -> dict:
    return json.loads(stack.openstack("volume", "show", name, "-f", "json"))


def _serials(domain_name: str) -> dict[str, str]:
    conn = libvirt.open(URI)
    try:
        xml = conn.lookupByName(domain_name).XMLDesc(0)
    finally:
        conn.close()
    found = {}
    for disk in re.findall(r"<disk .*?</disk>", xml, re.S):
        target = re.search(r"<target dev='([^']+)'", disk)
        serial = re.search(r"<serial>([^<]+)</serial>", disk)
        if target and serial:
            found[serial.group(1)] = target.group(1)
    return found


def _instance_name(stack: RunningStack, server: str) -> str:
    shown = json.loads(stack.openstack("server", "show", server, "-f", "json"))
    return shown["OS-EXT-SRV-ATTR:instance_name"]


def test_a_volume_moves_from_one_running_guest_to_another(qemu_stack: RunningStack):
    stack = qemu_stack
    stack.openstack("volume", "create", "--size", "1", "moving")
    for name in ("vol-a", "vol-b"):
        stack.openstack("server", "create", "--image", "guest", "--flavor", "m1.tiny", name)
    try:
        for name in ("vol-a", "vol-b"):
            _settled(stack, name, "ACTIVE", timeout=180)
            _new_boot(stack, name, set(), timeout=180)
        volume_id = stack.volume_settled("moving", "available", timeout=90)["id"]

        started = time.monotonic()
        stack.openstack("server", "add", "volume", "vol-a", "moving")
        stack.volume_settled("moving", "in-use", timeout=90)
        attached = time.monotonic() - started
        assert stack.console_match("vol-a", rf"disk vdb size {GiB}\b")
        seen = time.monotonic() - started
        marker = stack.console_match("vol-a", r"disk vdb wrote marker (\S+)").group(1)
        listed = json.loads(stack.openstack("server", "volume", "list", "vol-a", "-f", "json"))
        assert [(v["Volume ID"], v["Device"]) for v in listed] == [(volume_id, "/dev/vdb")]
        shown = json.loads(stack.openstack("server", "show", "vol-a", "-f", "json"))
        assert volume_id in json.dumps(shown["volumes_attached"])
        assert _serials(_instance_name(stack, "vol-a"))[volume_id] == "vdb"

        started = time.monotonic()
        stack.openstack("server", "remove", "volume", "vol-a", "moving")
        stack.volume_settled("moving", "available", timeout=90)
        detached = time.monotonic() - started
        stack.console_match("vol-a", r"disk vdb removed")
        assert volume_id not in _serials(_instance_name(stack, "vol-a"))

        stack.openstack("server", "add", "volume", "vol-b", "moving")
        stack.volume_settled("moving", "in-use", timeout=90)
        stack.console_match("vol-b", rf"disk vdb marker {re.escape(marker)}\b")
        print(
            f"\nQEMU volume attach: in-use after {attached:.2f}s, the guest printed its size "
            f"after {seen:.2f}s; detach: available after {detached:.2f}s"
        )
        stack.openstack("server", "remove", "volume", "vol-b", "moving")
        stack.volume_settled("moving", "available", timeout=90)
    finally:
        for name in ("vol-a", "vol-b"):
            stack.openstack("server", "delete", "--wait", name)
    stack.openstack("volume", "delete", "moving")


def test_a_guest_boots_from_a_volume(qemu_stack: RunningStack):
    stack = qemu_stack
    marker = "bfv-marker"
    disk = _marker_disk(stack.var / "bfv-marker.raw", marker)
    guest = json.loads(stack.openstack("image", "show", "guest", "-f", "json"))
    boot_parts = [
        arg
        for key in ("kernel_id", "ramdisk_id")
        for arg in ("--property", f"{key}={guest['properties'][key]}")
    ]
    stack.openstack(
        "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(disk), *boot_parts, "bfv-image",
    )  # fmt: skip
    stack.openstack("volume", "create", "--image", "bfv-image", "--size", "1", "bfv-root")
    volume_id = stack.volume_settled("bfv-root", "available", timeout=120)["id"]
    stack.openstack(
        "server", "create", "--volume", "bfv-root", "--flavor", "m1.tiny", "--wait", "bfv"
    )
    try:
        _marker_seen(stack, "bfv", marker)
        assert _volume(stack, "bfv-root")["status"] == "in-use"
        assert _serials(_instance_name(stack, "bfv"))[volume_id] == "vda"
    finally:
        stack.openstack("server", "delete", "--wait", "bfv")
    # Not delete_on_termination (`--volume`): the volume outlives the server.
    stack.volume_settled("bfv-root", "available", timeout=90)
    stack.openstack("volume", "delete", "bfv-root")
