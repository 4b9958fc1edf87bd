"""A real QEMU guest boots from image data, with the unmodified `openstack` CLI: a small
disk image holding a marker file (a tar archive: the guest's busybox reads it from its
raw root disk with no filesystem driver) is uploaded through the image API; the host
fetches it into its cache and backs the guest's root disk with it; the guest's init
prints the marker on its serial console (`openstack console log show`). The guest is
snapshotted (its disk uploaded by the host), resized (on the stack's one host the disk
stays and grows), and a new server boots from the snapshot: the marker every time."""

import io
import json
import re
import secrets
import tarfile
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_qemu_guest import _new_boot, _settled

pytestmark = pytest.mark.e2e


def _marker_disk(path: Path, marker: str) -> Path:
    """A 1 MiB raw disk image: a tar archive holding marker.txt, then zeros."""
    data = f"{marker}\n".encode()
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("marker.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with path.open("r+b") as handle:
        handle.truncate(1 << 20)
    return path


def _marker_seen(stack: RunningStack, name: str, marker: str, timeout: float = 120) -> None:
    stack.console_match(name, re.escape(f"stratus-guest: root disk marker {marker}"), timeout)


def test_a_real_guest_reads_its_image_and_keeps_it_through_snapshot_and_resize(
    qemu_stack: RunningStack,
):
    stack = qemu_stack
    marker = f"marker-{secrets.token_hex(6)}"
    disk = _marker_disk(stack.var / "marker.raw", marker)
    guest = json.loads(stack.openstack("image", "show", "guest", "-f", "json"))
    boot_parts = [
        arg
        for key in ("kernel_id", "ramdisk_id", "os_command_line")
        for arg in ("--property", f"{key}={guest['properties'][key]}")
    ]
    stack.openstack(
        "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(disk), *boot_parts, "marker-image",
    )  # fmt: skip
    image = json.loads(stack.openstack("image", "show", "marker-image", "-f", "json"))
    assert image["status"] == "active" and image["size"] == 1 << 20

    stack.openstack(
        "server", "create", "--image", "marker-image", "--flavor", "m1.tiny", "--wait", "dsk"
    )
    server = json.loads(stack.openstack("server", "show", "dsk", "-f", "json"))
    try:
        _marker_seen(stack, "dsk", marker)
        seen: set[str] = set()
        _new_boot(stack, "dsk", seen)
        assert (stack.var / "instances" / "qemu-1" / "_base" / image["id"]).is_file()

        # The guest is saved for the copy and restored (its console log starts afresh).
        stack.openstack("server", "image", "create", "--name", "dsk-snap", "--wait", "dsk")
        snapshot = json.loads(stack.openstack("image", "show", "dsk-snap", "-f", "json"))
        assert snapshot["status"] == "active" and snapshot["disk_format"] == "qcow2"

        stack.openstack("server", "resize", "--flavor", "m1.small", "--wait", "dsk")
        _settled(stack, "dsk", "VERIFY_RESIZE")
        # Started again, from its own (grown) disk; m1.small's 2 GiB take longer under TCG.
        _new_boot(stack, "dsk", seen, timeout=300)
        _marker_seen(stack, "dsk", marker)
        stack.openstack("server", "resize", "confirm", "dsk")
        _settled(stack, "dsk", "ACTIVE")

        stack.openstack(
            "server", "create", "--image", "dsk-snap", "--flavor", "m1.tiny", "--wait", "dsk-2"
        )
        try:
            _marker_seen(stack, "dsk-2", marker)
        finally:
            stack.openstack("server", "delete", "--wait", "dsk-2")
    finally:
        stack.openstack("server", "delete", "--wait", "dsk")
    assert not (stack.var / "instances" / "qemu-1" / server["id"]).exists()
