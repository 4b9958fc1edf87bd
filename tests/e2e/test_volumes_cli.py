"""Block storage with the real `openstack` CLI against the real stack (its file-backend
volume worker): an admin makes a multiattach volume type; the demo project creates a
volume from nothing, extends it, renames it, snapshots it, makes volumes from the
snapshot and from an uploaded image, boots a server from a volume made from that image
(`server create --boot-from-volume 1`, the volume kept after the server), and deletes
them (a volume with snapshots is refused); an admin resets a state."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def _demo(stack: RunningStack, *args: str):
    return _json(stack, "--os-cloud", "stratus-demo", *args)


def _demo_run(stack: RunningStack, *args: str) -> str:
    return stack.openstack("--os-cloud", "stratus-demo", *args)


def _until(stack: RunningStack, kind: str, name: str, status: str, timeout: float = 60) -> dict:
    """What scripts do after `volume create` (which does not wait): poll `show`."""
    deadline = time.monotonic() + timeout
    while True:
        shown = _demo(stack, "volume", *([kind] if kind else []), "show", name)
        if shown["status"] == status:
            return shown
        assert shown["status"] != "error", shown
        assert time.monotonic() < deadline, f"{name} is {shown['status']}, not {status}"
        time.sleep(0.5)


def _until_server(stack: RunningStack, name: str, status: str, timeout: float = 60) -> dict:
    """`server create --wait` polls every 5 s: this polls `server show` faster."""
    deadline = time.monotonic() + timeout
    while True:
        shown = _demo(stack, "server", "show", name)
        if shown["status"] == status:
            return shown
        assert shown["status"] != "ERROR", shown
        assert time.monotonic() < deadline, f"{name} is {shown['status']}, not {status}"
        time.sleep(0.5)


def test_volume_journey(stack: RunningStack, tmp_path: Path):
    kind = _json(
        stack, "volume", "type", "create", "--property", "multiattach=<is> True", "e2e-multi"
    )
    assert kind["properties"] == {"multiattach": "<is> True"}
    assert "e2e-multi" in {t["Name"] for t in _json(stack, "volume", "type", "list")}
    assert _json(stack, "volume", "type", "show", "e2e-multi")["properties"] == {
        "multiattach": "<is> True"
    }

    created = _demo(stack, "volume", "create", "--size", "1", "--description", "e2e", "vol1")
    assert created["status"] == "creating" and created["size"] == 1
    shown = _until(stack, "", "vol1", "available")
    assert shown["type"] == "__DEFAULT__" and shown["bootable"] is False
    assert "vol1" in {v["Name"] for v in _demo(stack, "volume", "list")}
    _demo_run(stack, "volume", "set", "--size", "2", "vol1")
    deadline = time.monotonic() + 60
    while _demo(stack, "volume", "show", "vol1")["size"] != 2:
        assert time.monotonic() < deadline, "extend never finished"
        time.sleep(0.5)
    _demo_run(stack, "volume", "set", "--name", "data", "--property", "tier=gold", "vol1")
    renamed = _until(stack, "", "data", "available")
    assert renamed["properties"] == {"tier": "gold"}

    shared = _demo(stack, "volume", "create", "--size", "1", "--type", "e2e-multi", "shared")
    assert shared["multiattach"] is True

    _demo(stack, "volume", "snapshot", "create", "--volume", "data", "snap1")
    _until(stack, "snapshot", "snap1", "available")
    assert [s["Name"] for s in _demo(stack, "volume", "snapshot", "list")] == ["snap1"]
    _demo(stack, "volume", "create", "--snapshot", "snap1", "copy")
    assert _until(stack, "", "copy", "available")["size"] == 2

    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"e2e-volume-image" + bytes((2 << 20) - 16))
    _demo(
        stack,
        "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(raw), "vol-image",
    )  # fmt: skip
    _demo(stack, "volume", "create", "--image", "vol-image", "--size", "1", "booty")
    booty = _until(stack, "", "booty", "available")
    assert booty["bootable"] is True
    assert booty["volume_image_metadata"]["image_name"] == "vol-image"

    # Boot from a volume the compute service makes from the image (1 GB), kept after.
    created = _demo(
        stack,
        "server", "create", "--image", "vol-image", "--flavor", "m1.tiny",
        "--boot-from-volume", "1", "--nic", "none", "bfv1",
    )  # fmt: skip
    server = _until_server(stack, "bfv1", "ACTIVE")
    assert created["image"] == server["image"] == "N/A (booted from volume)"
    [root] = server["volumes_attached"]
    assert root["delete_on_termination"] is False
    root_volume = _until(stack, "", root["id"], "in-use")
    assert root_volume["size"] == 1 and root_volume["bootable"] is True
    assert root_volume["volume_image_metadata"]["image_name"] == "vol-image"
    assert [a["server_id"] for a in root_volume["attachments"]] == [server["id"]]
    _demo_run(stack, "server", "delete", "bfv1")
    _until(stack, "", root["id"], "available")

    # An admin's reset; an error volume can still be deleted.
    stack.openstack(
        "volume", "set", "--state", "error", _demo(stack, "volume", "show", "copy")["id"]
    )
    assert _demo(stack, "volume", "show", "copy")["status"] == "error"

    refused = subprocess.run(
        [str(Path(sys.executable).parent / "openstack"), "--os-cloud", "stratus-demo",
         "volume", "delete", "data"],
        env=stack.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0 and "snapshots" in refused.stderr

    _demo_run(stack, "volume", "snapshot", "delete", "snap1")
    deadline = time.monotonic() + 60
    while _demo(stack, "volume", "snapshot", "list"):
        assert time.monotonic() < deadline, "snapshot never went"
        time.sleep(0.5)
    _demo_run(stack, "volume", "delete", "data", "copy", "shared", "booty", root["id"])
    deadline = time.monotonic() + 60
    while _demo(stack, "volume", "list"):
        assert time.monotonic() < deadline, "volumes never went"
        time.sleep(0.5)
    assert not list((stack.var / "volumes" / "file").glob("volume-*"))
    stack.openstack("volume", "type", "delete", "e2e-multi")
