"""Rebuild and createImage on a real QEMU guest, with the unmodified `openstack` CLI:
the rebuilt guest boots again (a new boot line); the snapshot is the guest's root
disk converted by qemu-img and uploaded by the host to the image API, an active
image owned by the server's project that names the server, and a new server boots
from it."""

import json
import subprocess

import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_qemu_guest import _new_boot, _settled

pytestmark = pytest.mark.e2e


def test_a_real_guest_is_rebuilt_and_snapshotted(qemu_stack: RunningStack):
    stack = qemu_stack
    stack.openstack("server", "create", "--image", "guest", "--flavor", "m1.tiny", "--wait", "snp")
    server = json.loads(stack.openstack("server", "show", "snp", "-f", "json"))
    seen: set[str] = set()
    try:
        _new_boot(stack, "snp", seen)
        stack.openstack("server", "rebuild", "--image", "guest", "--wait", "snp")
        _settled(stack, "snp", "ACTIVE")
        _new_boot(stack, "snp", seen)

        stack.openstack("server", "image", "create", "--name", "snp-image", "--wait", "snp")
        image = json.loads(stack.openstack("image", "show", "snp-image", "-f", "json"))
        assert image["status"] == "active"
        assert image["owner"] == server["project_id"]
        properties = image["properties"]
        assert properties["instance_uuid"] == server["id"]
        assert properties["image_type"] == "snapshot"
        # The host uploaded it to the image API; it reads back as a standalone qcow2.
        path = stack.var / "snp-image.qcow2"
        stack.openstack("image", "save", "--file", str(path), "snp-image")
        info = json.loads(
            subprocess.run(
                ["qemu-img", "info", "--output=json", str(path)],
                capture_output=True,
                check=True,
                text=True,
            ).stdout
        )
        assert info["format"] == "qcow2" and image["size"] == path.stat().st_size
        # The guest was saved for the copy and restored: it runs on, same boot.
        assert _settled(stack, "snp", "ACTIVE")["OS-EXT-STS:power_state"] == 1

        stack.openstack(
            "server", "create", "--image", "snp-image", "--flavor", "m1.tiny", "--wait", "snp-2"
        )
        try:
            _new_boot(stack, "snp-2", set())
        finally:
            stack.openstack("server", "delete", "--wait", "snp-2")
    finally:
        stack.openstack("server", "delete", "--wait", "snp")
