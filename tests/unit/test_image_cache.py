"""Guests boot from real image data, on the compute side alone: the real LibvirtDriver on
`test:///default`, real qemu-img and mkfs, and a real HTTP server standing in for the
image API's file endpoints (tests/image_server.py). The base is fetched once into the
host's cache and verified, the root disk is a qcow2 overlay of it, the flavor's
ephemeral and swap disks exist, the domain names them all; a corrupted download
caches nothing; unused bases are evicted; snapshots and moved disks are uploaded."""

import json
import subprocess
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from cloud.workers.virt.driver import HypervisorError
from cloud.workers.virt.libvirt_driver import LibvirtDriver
from tests.image_server import TOKEN, ImageServer, image_spec
from tests.unit.helpers import TEST_URI

MARKER = b"stratus-marker-7f3a"


def _info(path: Path) -> dict:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", "--force-share", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def _raw_image(tmp_path: Path, size: int = 4 << 20) -> bytes:
    data = bytearray(size)
    data[0 : len(MARKER)] = MARKER
    return bytes(data)


def _qcow2_image(tmp_path: Path) -> bytes:
    raw = tmp_path / "src.raw"
    raw.write_bytes(_raw_image(tmp_path))
    qcow2 = tmp_path / "src.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    return qcow2.read_bytes()


@pytest.fixture
def server():
    with ImageServer() as running:
        yield running


@pytest.fixture
def driver(tmp_path):
    return LibvirtDriver(TEST_URI, tmp_path / "instances")


def _spec(make_instance, image: dict, root_gb: int = 1, ephemeral_gb: int = 0, swap: int = 0):
    spec = make_instance()
    flavor = {**spec.flavor, "root_gb": root_gb, "ephemeral_gb": ephemeral_gb, "swap": swap}
    return replace(spec, flavor=flavor, image=image)


def _read_root(path: Path, length: int) -> bytes:
    """The guest's view of its root disk's first bytes (through the backing chain)."""
    out = path.with_name(f".{path.name}.head")
    subprocess.run(
        ["qemu-img", "dd", "-U", "-f", "qcow2", "-O", "raw", "bs=512", "count=1"]
        + [f"if={path}", f"of={out}"],
        check=True,
        capture_output=True,
    )
    try:
        return out.read_bytes()[:length]
    finally:
        out.unlink()


def test_a_guest_boots_from_the_cached_base_with_its_flavor_disks(
    driver, server, make_instance, libvirt_conn, tmp_path
):
    image = server.add(str(uuid.uuid4()), _qcow2_image(tmp_path), "qcow2")
    spec = _spec(make_instance, image, root_gb=1, ephemeral_gb=1, swap=64)

    driver.spawn(spec)

    base = tmp_path / "instances" / "_base" / image["id"]
    assert base.is_file() and server.gets[image["id"]] == 1
    directory = tmp_path / "instances" / spec.uuid
    root = _info(directory / "disk")
    assert root["format"] == "qcow2"
    assert root["full-backing-filename"] == str(base)
    assert root["backing-filename-format"] == "qcow2"
    assert root["virtual-size"] == 1024**3  # grown to the flavor's root disk
    assert _read_root(directory / "disk", len(MARKER)) == MARKER
    ephemeral = directory / "disk.eph0"
    assert ephemeral.stat().st_size == 1024**3
    with ephemeral.open("rb") as handle:  # an ext4 superblock's magic
        handle.seek(1024 + 0x38)
        assert handle.read(2) == b"\x53\xef"
    swap = directory / "disk.swap"
    assert swap.stat().st_size == 64 * 1024**2
    with swap.open("rb") as handle:
        handle.seek(4096 - 10)
        assert handle.read(10) == b"SWAPSPACE2"

    xml = ET.fromstring(libvirt_conn.lookupByUUIDString(spec.uuid).XMLDesc(0))
    devices = [
        (d.find("target").get("dev"), d.find("source").get("file"), d.find("driver").get("type"))
        for d in xml.findall("./devices/disk")
    ]
    assert devices == [
        ("vda", str(directory / "disk"), "qcow2"),
        ("vdb", str(ephemeral), "raw"),
        ("vdc", str(swap), "raw"),
    ]
    details = driver.get_diagnostics(spec.uuid)["disk_details"]
    assert [(d["device"], d["path"], d["backing_file"]) for d in details] == [
        ("vda", str(directory / "disk"), str(base)),
        ("vdb", str(ephemeral), None),
        ("vdc", str(swap), None),
    ]
    assert driver.cached_images() == [
        {
            "image_id": image["id"],
            "size": base.stat().st_size,
            "last_used": driver.cached_images()[0]["last_used"],
            "in_use": True,
        }
    ]


def test_a_disk_0_flavor_takes_the_images_virtual_size(driver, server, make_instance, tmp_path):
    image = server.add(str(uuid.uuid4()), _raw_image(tmp_path), "raw")
    spec = _spec(make_instance, image, root_gb=0)

    driver.spawn(spec)

    root = _info(tmp_path / "instances" / spec.uuid / "disk")
    assert root["virtual-size"] == 4 << 20 and root["backing-filename-format"] == "raw"


def test_a_corrupted_download_fails_the_build_and_caches_nothing(
    driver, server, make_instance, libvirt_conn, tmp_path
):
    data = _raw_image(tmp_path)
    image = server.add(str(uuid.uuid4()), data, "raw")
    server.corrupt[image["id"]] = data[:-1] + b"\x01"
    spec = _spec(make_instance, image)

    with pytest.raises(HypervisorError, match="failed verification"):
        driver.spawn(spec)

    cache = tmp_path / "instances" / "_base"
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []
    assert not (tmp_path / "instances" / spec.uuid / "disk").exists()
    assert spec.uuid not in [d.UUIDString() for d in libvirt_conn.listAllDomains()]


def test_content_that_is_not_its_declared_format_is_refused(
    driver, server, make_instance, tmp_path
):
    image = server.add(str(uuid.uuid4()), _qcow2_image(tmp_path), "raw")

    with pytest.raises(HypervisorError, match="declared raw but its data is qcow2"):
        driver.spawn(_spec(make_instance, image))

    assert not (tmp_path / "instances" / "_base" / image["id"]).exists()


def test_a_bad_token_is_a_clear_failure(driver, server, make_instance, tmp_path):
    image = {**server.add(str(uuid.uuid4()), _raw_image(tmp_path), "raw"), "transfer_token": "x"}

    with pytest.raises(HypervisorError, match="answered 401"):
        driver.spawn(_spec(make_instance, image))


def test_concurrent_builds_of_one_image_fetch_it_once(driver, server, make_instance, tmp_path):
    image = server.add(str(uuid.uuid4()), _raw_image(tmp_path, 32 << 20), "raw")
    specs = [_spec(make_instance, image) for _ in range(4)]
    errors: list[BaseException] = []

    def build(spec) -> None:
        try:
            driver.spawn(spec)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(spec,)) for spec in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert server.gets[image["id"]] == 1
    for spec in specs:
        assert (tmp_path / "instances" / spec.uuid / "disk").is_file()


def test_unused_bases_are_evicted_after_their_age_and_deleting_removes_files(
    driver, server, make_instance, tmp_path
):
    used = server.add(str(uuid.uuid4()), _raw_image(tmp_path), "raw")
    unused = server.add(str(uuid.uuid4()), _raw_image(tmp_path), "raw")
    guest = _spec(make_instance, used, ephemeral_gb=1, swap=16)
    gone = _spec(make_instance, unused)
    driver.spawn(guest)
    driver.spawn(gone)
    driver.destroy(gone.uuid)
    assert not (tmp_path / "instances" / gone.uuid).exists()  # its disks went with it

    assert driver.evict_images(max_age=3600) == []  # both used recently
    assert driver.evict_images(max_age=0) == [unused["id"]]  # never the one in use
    cache = tmp_path / "instances" / "_base"
    assert (cache / used["id"]).is_file() and not (cache / unused["id"]).exists()

    driver.destroy(guest.uuid)
    assert not (tmp_path / "instances" / guest.uuid).exists()
    assert driver.evict_images(max_age=0) == [used["id"]]


def test_a_snapshot_is_a_standalone_qcow2_of_the_disk(driver, server, make_instance, tmp_path):
    image = server.add(str(uuid.uuid4()), _qcow2_image(tmp_path), "qcow2")
    spec = _spec(make_instance, image)
    driver.spawn(spec)
    target = tmp_path / "snap.qcow2"

    driver.snapshot(spec.uuid, target, "qcow2")

    info = _info(target)
    assert info["format"] == "qcow2" and "backing-filename" not in info
    assert _read_root(target, len(MARKER)) == MARKER
    assert driver.get_info(spec.uuid).power_state == 1  # restored as it was


def test_a_moved_disk_is_uploaded_by_the_source_and_fetched_by_the_destination(
    server, make_instance, tmp_path
):
    source = LibvirtDriver(TEST_URI, tmp_path / "source")
    dest = LibvirtDriver(TEST_URI, tmp_path / "dest")
    image = server.add(str(uuid.uuid4()), _qcow2_image(tmp_path), "qcow2")
    spec = _spec(make_instance, image)
    source.spawn(spec)
    source.power_off(spec.uuid)
    move_id = str(uuid.uuid4())

    source.upload_root_disk(spec.uuid, url=server.file_url(move_id), token=TOKEN)
    copy = server.uploads[move_id]
    server.images[move_id] = copy
    source.destroy(spec.uuid)  # the copy must not need anything the source had
    bigger = replace(spec, flavor={**spec.flavor, "root_gb": 2})
    moved = image_spec(server.add(move_id, copy, "qcow2"))
    dest.finish_migration(bigger, power_on=True, disk_image=moved)

    root = tmp_path / "dest" / spec.uuid / "disk"
    info = _info(root)
    assert info["virtual-size"] == 2 * 1024**3 and "backing-filename" not in info
    assert _read_root(root, len(MARKER)) == MARKER
    assert not (tmp_path / "dest" / "_base" / move_id).exists()  # a guest's disk, not a base
