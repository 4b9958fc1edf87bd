"""A guest's disks from an uploaded image, with the real `openstack` CLI on the simulated
hosts: upload a raw image, make a flavor with ephemeral and swap disks, boot from the
image, and see the three disk files the host made (the root disk a qcow2 backed by the
cached image) in `server show --diagnostics`; the guest's console log (the simulated
serial console) shows its power transitions with `console log show --lines`."""

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def test_boot_from_an_uploaded_image_with_flavor_disks(stack: RunningStack, tmp_path: Path):
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(2 * 1024 * 1024))
    image = _json(
        stack,
        "image",
        "create",
        "--file",
        str(source),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "--public",
        "disks-e2e",
    )
    flavor = _json(
        stack,
        "flavor",
        "create",
        "--ram",
        "256",
        "--disk",
        "1",
        "--vcpus",
        "1",
        "--ephemeral",
        "1",
        "--swap",
        "64",
        "f.disks",
    )
    try:
        stack.openstack(
            "server", "create", "--image", image["id"], "--flavor", "f.disks", "--wait", "dsk"
        )
        diagnostics = _json(stack, "server", "show", "--diagnostics", "dsk")
        details = diagnostics["disk_details"]
        assert [d["device"] for d in details] == ["vda", "vdb", "vdc"], details
        root, ephemeral, swap = details
        assert root["format"] == "qcow2"
        assert root["backing_file"].endswith(f"_base/{image['id']}"), root
        assert root["virtual_size"] == 1024**3
        assert ephemeral["path"].endswith("disk.eph0") and ephemeral["virtual_size"] == 1024**3
        assert swap["path"].endswith("disk.swap") and swap["virtual_size"] == 64 * 1024**2
        for disk in details:
            assert Path(disk["path"]).is_file(), disk

        stack.openstack("server", "stop", "dsk")
        log = stack.openstack("console", "log", "show", "--lines", "2", "dsk")
        lines = log.strip().splitlines()
        assert len(lines) == 2, log
        server_id = _json(stack, "server", "show", "dsk")["id"]
        assert server_id in log
    finally:
        stack.openstack("server", "delete", "--wait", "dsk")
        stack.openstack("flavor", "delete", flavor["id"])
        stack.openstack("image", "delete", image["id"])
