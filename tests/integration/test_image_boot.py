"""Guests boot from real image data, end to end on the test hypervisor: an image uploaded
through the image API, fetched by the compute worker over HTTP (a transfer token in
its build payload) into its host's cache, the guest's qcow2 root disk backed by it,
the flavor's ephemeral and swap disks, all seen in the admin's diagnostics; a
corrupted download failing the build with a clear fault and caching nothing; one
fetch for several builds; unused bases evicted; a snapshot uploaded over HTTP and
booted on the other host; a resize to the other host carrying the disk's content."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from cloud.hosts.models import ComputeNode
from cloud.images.models import Image
from cloud.instances.models import Flavor, InstanceFault
from tests.helpers import create_server, show, wait_gone
from tests.integration.conftest import HOSTS, wait_for

V21 = "/compute/v2.1"
SERVERS = f"{V21}/servers"
IMAGES = "/image/v2/images"
MARKER = b"stratus-disk-marker-0451"


def _raw_image(tmp_path: Path, size: int = 8 << 20) -> Path:
    data = bytearray(size)
    data[: len(MARKER)] = MARKER
    path = tmp_path / "marker.raw"
    path.write_bytes(bytes(data))
    return path


def _qcow2_image(tmp_path: Path) -> Path:
    target = tmp_path / "marker.qcow2"
    subprocess.run(
        ["qemu-img", "convert", "-O", "qcow2", str(_raw_image(tmp_path)), str(target)], check=True
    )
    return target


def _upload(client, path: Path, disk_format: str, name: str = "marker") -> dict:
    created = client.post(
        IMAGES,
        {"name": name, "disk_format": disk_format, "container_format": "bare"},
        format="json",
    )
    assert created.status_code == 201, created.content
    image_id = created.json()["id"]
    uploaded = client.put(
        f"{IMAGES}/{image_id}/file",
        data=path.read_bytes(),
        content_type="application/octet-stream",
    )
    assert uploaded.status_code == 204, uploaded.content
    image = client.get(f"{IMAGES}/{image_id}").json()
    assert image["status"] == "active"
    return image


def _flavor(flavorid: str, root_gb: int = 1, ephemeral_gb: int = 0, swap: int = 0) -> str:
    Flavor.objects.update_or_create(
        flavorid=flavorid,
        defaults={
            "name": f"disks-{flavorid}",
            "memory_mb": 512,
            "vcpus": 1,
            "root_gb": root_gb,
            "ephemeral_gb": ephemeral_gb,
            "swap": swap,
            "is_public": True,
        },
    )
    return flavorid


def _active(client, server_id: str, timeout: float = 60) -> dict:
    wait_for(
        lambda: (s := show(client, server_id)) and s["status"] in ("ACTIVE", "ERROR"),
        timeout,
        message=f"{server_id} built",
    )
    server = show(client, server_id)
    assert server["status"] == "ACTIVE", server.get("fault")
    return server


def _settled(client, server_id: str, status: str, timeout: float = 60) -> dict:
    wait_for(
        lambda: (
            (s := show(client, server_id))
            and s["status"] == status
            and s["OS-EXT-STS:task_state"] is None
        ),
        timeout,
        message=f"{server_id} settled in {status}: {show(client, server_id)}",
    )
    return show(client, server_id)


def _boot(client, image_id: str, flavor: str = "1", name: str = "disk", **extra) -> dict:
    return create_server(client, name, flavor=flavor, imageRef=image_id, **extra)


def _instances(workers, host: str) -> Path:
    return workers.logdir / "instances" / host


def _base(workers, host: str, image_id: str) -> Path:
    return _instances(workers, host) / "_base" / image_id


def _diagnostics(admin_client, server_id: str) -> dict:
    response = admin_client.get(f"{SERVERS}/{server_id}/diagnostics")
    assert response.status_code == 200, response.content
    return response.json()


def _info(path: Path) -> dict:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", "-U", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def _head(path: Path, length: int) -> bytes:
    """The first bytes the guest reads from the disk (through its backing chain)."""
    out = path.with_name(f".{path.name}.head")
    subprocess.run(
        ["qemu-img", "dd", "-U", "-O", "raw", "bs=512", "count=1", f"if={path}", f"of={out}"],
        check=True,
        capture_output=True,
    )
    try:
        return out.read_bytes()[:length]
    finally:
        out.unlink()


def _downloads(workers, image_id: str) -> int:
    """GETs of the image's data the api answered (its request log)."""
    log = (workers.logdir / "api.log").read_text(errors="replace")
    return len(re.findall(rf'"GET /image/v2/images/{image_id}/file HTTP/1\.1" 200', log))


def test_a_guest_boots_from_an_uploaded_image_with_its_flavor_disks(
    cloud, member_client, admin_client, tmp_path
):
    image = _upload(member_client, _qcow2_image(tmp_path), "qcow2")
    flavor = _flavor("disks-eph", root_gb=1, ephemeral_gb=1, swap=64)

    server = _active(member_client, _boot(member_client, image["id"], flavor)["id"])

    host = show(admin_client, server["id"])["OS-EXT-SRV-ATTR:host"]
    base = _base(cloud, host, image["id"])
    assert base.is_file() and base.stat().st_size == image["size"]
    directory = _instances(cloud, host) / server["id"]
    root = _info(directory / "disk")
    assert root["format"] == "qcow2" and root["full-backing-filename"] == str(base)
    assert root["virtual-size"] == 1024**3
    assert _head(directory / "disk", len(MARKER)) == MARKER

    diagnostics = _diagnostics(admin_client, server["id"])
    assert diagnostics["num_disks"] == 3
    disks = [
        (d["device"], d["path"], d["format"], d["backing_file"])
        for d in diagnostics["disk_details"]
    ]
    assert disks == [
        ("vda", str(directory / "disk"), "qcow2", str(base)),
        ("vdb", str(directory / "disk.eph0"), "raw", None),
        ("vdc", str(directory / "disk.swap"), "raw", None),
    ]
    assert diagnostics["disk_details"][1]["virtual_size"] == 1024**3
    assert diagnostics["disk_details"][2]["virtual_size"] == 64 * 1024**2
    # Where images are cached: the host's heartbeat says (the admin shows it).
    wait_for(
        lambda: any(
            e["image_id"] == image["id"] and e["in_use"]
            for e in ComputeNode.objects.get(host=host).image_cache
        ),
        10,
        message="the heartbeat reports the cached base",
    )

    assert member_client.delete(f"{SERVERS}/{server['id']}").status_code == 204
    wait_gone(member_client, server["id"])
    wait_for(lambda: not directory.exists(), 30, message="the guest's files removed")
    # Its last guest gone, the base is evicted once IMAGE_CACHE_MAX_AGE has passed.
    wait_for(lambda: not base.exists(), 30, message="the unused base evicted")


def test_a_corrupted_download_fails_the_build_and_caches_nothing(
    cloud, member_client, admin_client, tmp_path
):
    image = _upload(member_client, _raw_image(tmp_path), "raw")
    stored = Path(Image.objects.get(pk=image["id"]).locations[0]["url"].removeprefix("file://"))
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF  # the store's copy rots: same size, other bytes
    stored.write_bytes(bytes(data))

    server_id = _boot(member_client, image["id"])["id"]

    wait_for(
        lambda: (s := show(member_client, server_id)) and s["status"] == "ERROR",
        60,
        message="the build failed",
    )
    fault = InstanceFault.objects.filter(instance_uuid=server_id).latest("created_at")
    assert "failed verification" in fault.message, fault.message
    for host in HOSTS:
        base_dir = _instances(cloud, host) / "_base"
        left = [p.name for p in base_dir.iterdir()] if base_dir.exists() else []
        assert [name for name in left if image["id"] in name and ".lock" not in name] == []


def test_builds_of_one_image_on_one_host_fetch_it_once(
    cloud, member_client, admin_client, tmp_path
):
    image = _upload(member_client, _raw_image(tmp_path), "raw")
    first = _boot(admin_client, image["id"], availability_zone="nova:itest-a", name="one")
    second = _boot(admin_client, image["id"], availability_zone="nova:itest-a", name="two")
    for server in (first, second):
        _active(admin_client, server["id"])

    assert _downloads(cloud, image["id"]) == 1
    assert _base(cloud, "itest-a", image["id"]).is_file()


def test_a_snapshot_is_uploaded_over_http_and_boots_on_the_other_host(
    cloud, member_client, admin_client, tmp_path
):
    image = _upload(member_client, _qcow2_image(tmp_path), "qcow2")
    server = _boot(admin_client, image["id"], availability_zone="nova:itest-a")
    _active(admin_client, server["id"])

    response = admin_client.post(
        f"{SERVERS}/{server['id']}/action",
        {"createImage": {"name": "snap"}},
        format="json",
        HTTP_OPENSTACK_API_VERSION="compute 2.45",
    )
    assert response.status_code == 202, response.content
    snapshot_id = response.json()["image_id"]
    wait_for(
        lambda: admin_client.get(f"{IMAGES}/{snapshot_id}").json()["status"] == "active",
        60,
        message="the snapshot uploaded",
    )
    snapshot = admin_client.get(f"{IMAGES}/{snapshot_id}").json()
    assert snapshot["disk_format"] == "qcow2" and snapshot["size"] > 0
    assert snapshot["os_hash_algo"] == "sha512" and snapshot["os_hash_value"]
    assert _settled(admin_client, server["id"], "ACTIVE")

    copy = _boot(admin_client, snapshot_id, availability_zone="nova:itest-b", name="from-snap")
    _active(admin_client, copy["id"])

    base = _base(cloud, "itest-b", snapshot_id)
    assert "backing-filename" not in _info(base)  # the snapshot stands alone
    root = _instances(cloud, "itest-b") / copy["id"] / "disk"
    assert _info(root)["full-backing-filename"] == str(base)
    assert _head(root, len(MARKER)) == MARKER


@pytest.mark.parametrize("stopped", [False, True])
def test_a_resize_to_the_other_host_carries_the_disk(
    cloud, member_client, admin_client, tmp_path, stopped
):
    image = _upload(member_client, _raw_image(tmp_path), "raw")
    server = _boot(admin_client, image["id"], availability_zone="nova:itest-a")
    _active(admin_client, server["id"])
    source = _instances(cloud, "itest-a") / server["id"] / "disk"
    # What the guest wrote since it booted: in its own disk, not in the image.
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", str(source)],
        check=True,
        capture_output=True,
    )
    if stopped:
        admin_client.post(f"{SERVERS}/{server['id']}/action", {"os-stop": None}, format="json")
        _settled(admin_client, server["id"], "SHUTOFF")

    response = admin_client.post(
        f"{SERVERS}/{server['id']}/action", {"resize": {"flavorRef": "2"}}, format="json"
    )
    assert response.status_code == 202, response.content
    resized = _settled(admin_client, server["id"], "VERIFY_RESIZE")

    assert resized["OS-EXT-SRV-ATTR:host"] == "itest-b"
    dest = _instances(cloud, "itest-b") / server["id"] / "disk"
    info = _info(dest)
    assert info["virtual-size"] == 20 * 1024**3  # m1.small's root disk
    assert "backing-filename" not in info  # the flattened copy the source uploaded
    assert _head(dest, len(MARKER)) == MARKER
    check = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-U", "-r", "-c", "read -P 0x5a 1M 64k", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "Pattern verification failed" not in check.stdout
    # The move's temporary image is gone (its data with it), and no user ever listed it.
    moves = Image.objects.filter(properties__migration_uuid__isnull=False)
    assert [m.status for m in moves] == ["deleted"]
    assert not any(Path(cloud.image_store).rglob(str(moves[0].id)))

    confirm = admin_client.post(
        f"{SERVERS}/{server['id']}/action", {"confirmResize": None}, format="json"
    )
    assert confirm.status_code == 204, confirm.content
    _settled(admin_client, server["id"], "SHUTOFF" if stopped else "ACTIVE")
    wait_for(lambda: not source.parent.exists(), 30, message="the source's files removed")


def _force_down(admin_client, host: str, down: bool) -> None:
    services = admin_client.get(f"{V21}/os-services").json()["services"]
    (service,) = [s for s in services if s["host"] == host]
    response = admin_client.put(
        f"{V21}/os-services/{service['id']}", {"forced_down": down}, format="json"
    )
    assert response.status_code == 200, response.content


def test_an_evacuated_guest_is_rebuilt_from_its_image_on_the_other_host(
    cloud, member_client, admin_client, tmp_path
):
    """The down host's disk cannot be read: as Nova without shared storage, the guest is
    rebuilt from its image on the target (what it wrote since is lost)."""
    image = _upload(member_client, _raw_image(tmp_path), "raw")
    server = _boot(admin_client, image["id"], availability_zone="nova:itest-a")
    _active(admin_client, server["id"])

    _force_down(admin_client, "itest-a", True)
    try:
        response = admin_client.post(
            f"{SERVERS}/{server['id']}/action", {"evacuate": {"host": "itest-b"}}, format="json"
        )
        assert response.status_code == 200, response.content
        _settled(admin_client, server["id"], "ACTIVE")
    finally:
        _force_down(admin_client, "itest-a", False)

    root = _instances(cloud, "itest-b") / server["id"] / "disk"
    assert _info(root)["full-backing-filename"] == str(_base(cloud, "itest-b", image["id"]))
    assert _head(root, len(MARKER)) == MARKER
