"""Glance v2 image service: create, upload and download (streamed, Range, hashes), JSON
patch, tags, deactivate/reactivate, delete, members, the visibility matrix, disk format
probing, quotas, and the image transfer token."""

import hashlib
import io
import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from cloud.identity.models import Project
from cloud.identity.services import project_user_ensure
from cloud.images.models import Image
from cloud.images.transfer import image_transfer_token
from tests.helpers import PASSWORD, token_for

IMAGES = "/image/v2/images"
PATCH = "application/openstack-images-v2.1-json-patch"


@pytest.fixture
def store(tmp_path: Path):
    directory = tmp_path / "images"
    with override_settings(IMAGE_STORE_DIR=directory):
        yield directory


def _client(username: str, project: str, role: str = "member") -> APIClient:
    project_user_ensure(project_name=project, username=username, password=PASSWORD, role_name=role)
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for(username, project))
    return client


@pytest.fixture
def bob(seeded) -> APIClient:
    return _client("bob", "beta")


@pytest.fixture
def carol(seeded) -> APIClient:
    return _client("carol", "gamma")


def _pid(name: str) -> str:
    return Project.objects.get(name=name).id


def create(client: APIClient, **body) -> dict:
    body.setdefault("disk_format", "raw")
    body.setdefault("container_format", "bare")
    response = client.post(IMAGES, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def upload(client: APIClient, image_id: str, data: bytes, **extra):
    return client.put(
        f"{IMAGES}/{image_id}/file",
        data=data,
        content_type="application/octet-stream",
        **extra,
    )


def download(client: APIClient, image_id: str, **extra):
    return client.get(f"{IMAGES}/{image_id}/file", **extra)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def patch(client: APIClient, image_id: str, ops: list):
    return client.generic("PATCH", f"{IMAGES}/{image_id}", data=_json(ops), content_type=PATCH)


def _json(value) -> str:
    import json

    return json.dumps(value)


def store_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


# --- create, upload, download ----------------------------------------------------------


def test_create_upload_download(api, store):
    image = create(api, name="disk", min_disk=1, min_ram=64, tags=["a"], distro="debian")
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["distro"] == "debian" and image["tags"] == ["a"] and image["size"] is None
    data = b"\x00stratus-image" * 40000
    assert upload(api, image["id"], data).status_code == 204
    shown = api.get(f"{IMAGES}/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["virtual_size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    got = download(api, image["id"])
    assert got.status_code == 200 and got["Content-MD5"] == shown["checksum"]
    assert got["Content-Type"] == "application/octet-stream"
    assert body_of(got) == data
    assert [p.name for p in store_files(store)] == [image["id"]]
    # Data goes in once.
    assert upload(api, image["id"], b"again").status_code == 409


def test_range_download(api, store):
    image = create(api, name="ranged")
    data = bytes(range(256)) * 16
    upload(api, image["id"], data)
    part = download(api, image["id"], HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and body_of(part) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = download(api, image["id"], HTTP_RANGE="bytes=-5")
    assert tail.status_code == 206 and body_of(tail) == data[-5:]
    rest = download(api, image["id"], HTTP_RANGE="bytes=4000-")
    assert body_of(rest) == data[4000:]
    assert download(api, image["id"], HTTP_RANGE=f"bytes={len(data)}-").status_code == 416
    assert download(api, image["id"], HTTP_RANGE="pages=1-2").status_code == 416


def test_upload_needs_octet_stream_and_formats(api, store):
    image = create(api, name="x")
    response = api.put(f"{IMAGES}/{image['id']}/file", data=b"abc", content_type="text/plain")
    assert response.status_code == 415
    bare = api.post(IMAGES, {"name": "noformat"}, format="json").json()
    assert upload(api, bare["id"], b"abc").status_code == 400
    assert api.get(f"{IMAGES}/{bare['id']}").json()["status"] == "queued"


def test_queued_image_download_is_empty(api, store):
    image = create(api, name="empty")
    assert download(api, image["id"]).status_code == 204


# --- failed uploads leave nothing ------------------------------------------------------


class Disconnect(io.RawIOBase):
    """A request body whose client goes away after `size` bytes of the announced length."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_client_disconnect_leaves_no_bytes(api, store):
    image = create(api, name="cut")
    response = api.generic(
        "PUT",
        f"{IMAGES}/{image['id']}/file",
        content_type="application/octet-stream",
        CONTENT_LENGTH="10000000",
        **{"wsgi.input": io.BufferedReader(Disconnect(3_000_000))},
    )
    assert response.status_code == 400
    assert api.get(f"{IMAGES}/{image['id']}").json()["status"] == "queued"
    assert store_files(store) == []
    # The upload may be retried.
    assert upload(api, image["id"], b"whole").status_code == 204


def test_content_not_matching_disk_format_is_refused(api, store, tmp_path):
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(qcow2), "16M"], check=True)
    data = qcow2.read_bytes()
    disguised = create(api, name="raw-but-qcow2", disk_format="raw")
    response = upload(api, disguised["id"], data)
    assert response.status_code == 400 and "does not match" in response.content.decode()
    assert api.get(f"{IMAGES}/{disguised['id']}").json()["status"] == "queued"
    assert store_files(store) == []
    honest = create(api, name="qcow2", disk_format="qcow2")
    assert upload(api, honest["id"], data).status_code == 204
    shown = api.get(f"{IMAGES}/{honest['id']}").json()
    assert shown["virtual_size"] == 16 * 1024 * 1024 and shown["size"] == len(data)
    fake = create(api, name="qcow2-but-raw", disk_format="qcow2")
    assert upload(api, fake["id"], b"\x00" * 4096).status_code == 400
    iso = create(api, name="not-an-iso", disk_format="iso")
    assert upload(api, iso["id"], b"\x00" * 65536).status_code == 400


def test_qcow2_with_backing_file_is_refused(api, store, tmp_path):
    base = tmp_path / "base.raw"
    base.write_bytes(b"\x00" * 1024 * 1024)
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", str(base), str(overlay)],
        check=True,
    )
    image = create(api, name="backed", disk_format="qcow2")
    assert upload(api, image["id"], overlay.read_bytes()).status_code == 400
    assert store_files(store) == []


def test_iso_upload(api, store):
    data = bytearray(64 * 1024)
    data[0x8001:0x8006] = b"CD001"
    image = create(api, name="cd", disk_format="iso")
    assert upload(api, image["id"], bytes(data)).status_code == 204


def test_size_quota(api, store):
    with override_settings(IMAGE_QUOTA_SIZE_MB=1):
        first = create(api, name="q1")
        assert upload(api, first["id"], b"\x01" * 700_000).status_code == 204
        second = create(api, name="q2")
        response = upload(api, second["id"], b"\x02" * 700_000)
        assert response.status_code == 413
        assert api.get(f"{IMAGES}/{second['id']}").json()["status"] == "queued"
        assert [p.name for p in store_files(store)] == [first["id"]]


def test_size_quota_on_chunked_upload(api, store):
    with override_settings(IMAGE_QUOTA_SIZE_MB=1, IMAGE_CHUNK_SIZE=65536):
        image = create(api, name="chunked")
        response = api.generic(
            "PUT",
            f"{IMAGES}/{image['id']}/file",
            content_type="application/octet-stream",
            HTTP_TRANSFER_ENCODING="chunked",
            **{"wsgi.input": io.BytesIO(b"\x03" * 2_000_000)},
        )
        assert response.status_code == 413
        assert store_files(store) == []
        assert api.get(f"{IMAGES}/{image['id']}").json()["status"] == "queued"


def test_count_quota(api, store):
    with override_settings(IMAGE_QUOTA_COUNT=1):
        create(api, name="only")
        response = api.post(IMAGES, {"name": "one-too-many"}, format="json")
        assert response.status_code == 413
        assert not Image.objects.filter(name="one-too-many").exists()


# --- update ----------------------------------------------------------------------------


def test_json_patch(api, store):
    image = create(api, name="p", distro="debian")
    iid = image["id"]
    response = patch(
        api,
        iid,
        [
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
            {"op": "replace", "path": "/distro", "value": "ubuntu"},
            {"op": "replace", "path": "/min_ram", "value": 512},
            {"op": "add", "path": "/tags", "value": ["x", "y"]},
            {"op": "replace", "path": "/protected", "value": True},
        ],
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "renamed" and body["hw_disk_bus"] == "virtio"
    assert body["distro"] == "ubuntu" and body["min_ram"] == 512
    assert body["tags"] == ["x", "y"] and body["protected"] is True
    removed = patch(api, iid, [{"op": "remove", "path": "/distro"}]).json()
    assert "distro" not in removed
    assert patch(api, iid, [{"op": "remove", "path": "/distro"}]).status_code == 409
    assert patch(api, iid, [{"op": "replace", "path": "/nope", "value": "v"}]).status_code == 409
    for path in ("/status", "/size", "/checksum", "/os_hash_value", "/id", "/created_at"):
        ops = [{"op": "replace", "path": path, "value": "x"}]
        assert patch(api, iid, ops).status_code == 403, path
    assert patch(api, iid, [{"op": "add", "path": "/deleted", "value": "x"}]).status_code == 403
    assert patch(api, iid, [{"op": "remove", "path": "/name"}]).status_code == 403
    assert patch(api, iid, [{"op": "move", "path": "/name", "from": "/x"}]).status_code == 400
    bad = patch(api, iid, [{"op": "add", "path": "/k", "value": 5}])
    assert bad.status_code == 400
    assert (
        patch(api, iid, [{"op": "replace", "path": "/visibility", "value": "public"}]).status_code
        == 403
    )
    assert (
        patch(api, iid, [{"op": "replace", "path": "/visibility", "value": "community"}]).json()[
            "visibility"
        ]
        == "community"
    )
    wrong_type = api.patch(f"{IMAGES}/{iid}", [], format="json")
    assert wrong_type.status_code == 415
    # A failed patch changes nothing.
    patch(api, iid, [{"op": "add", "path": "/a", "value": "1"}, {"op": "remove", "path": "/zz"}])
    assert "a" not in api.get(f"{IMAGES}/{iid}").json()


def test_formats_fixed_once_data_is_in(api, store):
    image = create(api, name="fmt")
    upload(api, image["id"], b"data")
    ops = [{"op": "replace", "path": "/disk_format", "value": "qcow2"}]
    assert patch(api, image["id"], ops).status_code == 403


def test_create_refuses_read_only_and_bad_values(api, store):
    assert api.post(IMAGES, {"name": "x", "status": "active"}, format="json").status_code == 403
    assert api.post(IMAGES, {"name": "x", "size": 5}, format="json").status_code == 403
    assert api.post(IMAGES, {"visibility": "public"}, format="json").status_code == 403
    assert api.post(IMAGES, {"disk_format": "exe"}, format="json").status_code == 400
    assert api.post(IMAGES, {"min_disk": -1}, format="json").status_code == 400
    assert api.post(IMAGES, {"id": "nope"}, format="json").status_code == 400
    assert not Image.objects.filter(name="x").exists()


def test_tags(api, store):
    image = create(api, name="t")
    assert api.put(f"{IMAGES}/{image['id']}/tags/blue").status_code == 204
    assert api.put(f"{IMAGES}/{image['id']}/tags/blue").status_code == 204
    assert api.get(f"{IMAGES}/{image['id']}").json()["tags"] == ["blue"]
    assert [i["id"] for i in api.get(f"{IMAGES}?tag=blue").json()["images"]] == [image["id"]]
    assert api.get(f"{IMAGES}?tag=blue&tag=red").json()["images"] == []
    assert api.delete(f"{IMAGES}/{image['id']}/tags/blue").status_code == 204
    assert api.delete(f"{IMAGES}/{image['id']}/tags/blue").status_code == 404


def test_deactivate_reactivate(api, bob, store):
    image = create(api, name="d", visibility="community")
    upload(api, image["id"], b"payload")
    assert bob.post(f"{IMAGES}/{image['id']}/actions/deactivate").status_code == 403
    assert api.post(f"{IMAGES}/{image['id']}/actions/deactivate").status_code == 204
    assert api.get(f"{IMAGES}/{image['id']}").json()["status"] == "deactivated"
    assert download(api, image["id"]).status_code == 403
    assert api.post(f"{IMAGES}/{image['id']}/actions/reactivate").status_code == 204
    assert body_of(download(api, image["id"])) == b"payload"
    queued = create(api, name="q")
    assert api.post(f"{IMAGES}/{queued['id']}/actions/deactivate").status_code == 403


def test_delete_protected_and_data(api, bob, store, django_capture_on_commit_callbacks):
    image = create(api, name="del", protected=True, visibility="community")
    upload(api, image["id"], b"bytes")
    assert bob.delete(f"{IMAGES}/{image['id']}").status_code == 403
    assert api.delete(f"{IMAGES}/{image['id']}").status_code == 403
    patch(api, image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{IMAGES}/{image['id']}").status_code == 204
    assert api.get(f"{IMAGES}/{image['id']}").status_code == 404
    assert store_files(store) == []


# --- listing ---------------------------------------------------------------------------


def test_filters_sort_and_paging(api, store):
    ids = [create(api, name=f"page-{i}", min_ram=i, os_distro="alpine")["id"] for i in range(5)]
    first = api.get(f"{IMAGES}?limit=2&sort_key=name&sort_dir=asc&os_distro=alpine").json()
    assert [i["name"] for i in first["images"]] == ["page-0", "page-1"]
    assert "marker=" in first["next"]
    second = api.get(first["next"].replace("/v2/images", IMAGES)).json()
    assert [i["name"] for i in second["images"]] == ["page-2", "page-3"]
    by_sort = api.get(f"{IMAGES}?sort=name:desc&os_distro=alpine").json()["images"]
    assert by_sort[0]["name"] == "page-4"
    assert len(api.get(f"{IMAGES}?name=in:page-1,page-2").json()["images"]) == 2
    assert api.get(f"{IMAGES}?status=queued&os_distro=alpine").json()["images"][0]["id"] in ids
    assert api.get(f"{IMAGES}?sort_key=bogus").status_code == 400
    assert api.get(f"{IMAGES}?marker=bogus").status_code == 400
    assert api.get(f"{IMAGES}?visibility=bogus").status_code == 400
    assert api.get(f"{IMAGES}?created_at=gte:2000-01-01T00:00:00Z&os_distro=alpine").json()[
        "images"
    ]
    assert api.get(f"{IMAGES}?created_at=whenever").status_code == 400
    hidden = create(api, name="hidden", os_hidden=True)
    assert hidden["id"] not in [i["id"] for i in api.get(IMAGES).json()["images"]]
    assert [i["id"] for i in api.get(f"{IMAGES}?os_hidden=true").json()["images"]] == [hidden["id"]]


# --- members and the visibility matrix -------------------------------------------------


def test_members_lifecycle(api, bob, carol, store):
    image = create(api, name="shared-img", visibility="shared")
    iid, beta = image["id"], _pid("beta")
    member = api.post(f"{IMAGES}/{iid}/members", {"member": beta}, format="json")
    assert member.status_code == 200 and member.json()["status"] == "pending"
    assert api.post(f"{IMAGES}/{iid}/members", {"member": beta}, format="json").status_code == 409
    assert bob.post(f"{IMAGES}/{iid}/members", {"member": "x"}, format="json").status_code == 403
    # The owner cannot answer for the member; the member can.
    url = f"{IMAGES}/{iid}/members/{beta}"
    assert api.put(url, {"status": "accepted"}, format="json").status_code == 403
    assert bob.put(url, {"status": "bogus"}, format="json").status_code == 400
    accepted = bob.put(url, {"status": "accepted"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert [m["member_id"] for m in api.get(f"{IMAGES}/{iid}/members").json()["members"]] == [beta]
    assert bob.get(url).json()["status"] == "accepted"
    assert carol.get(url).status_code == 404
    assert bob.delete(url).status_code == 403
    assert api.delete(url).status_code == 204
    assert bob.get(f"{IMAGES}/{iid}").status_code == 404
    private = create(api, name="private-img", visibility="private")
    response = api.post(f"{IMAGES}/{private['id']}/members", {"member": beta}, format="json")
    assert response.status_code == 403


VISIBILITIES = ("private", "shared", "community", "public")
CALLERS = ("owner", "accepted", "pending", "other", "admin")


@pytest.fixture
def matrix(api, bob, carol, admin_api, store):
    """An image of alpha in each visibility, with beta an accepted member and gamma a
    pending one of each shared image; and every caller's client."""
    dave = _client("dave", "delta")
    images = {}
    for visibility in VISIBILITIES:
        owner = admin_api if visibility == "public" else api
        image = create(owner, name=f"m-{visibility}", visibility=visibility)
        if visibility == "public":
            patch(
                admin_api,
                image["id"],
                [{"op": "replace", "path": "/owner", "value": _pid("alpha")}],
            )
        upload(api, image["id"], visibility.encode())
        images[visibility] = image["id"]
    for visibility in ("shared",):
        iid = images[visibility]
        for project in ("beta", "gamma"):
            api.post(f"{IMAGES}/{iid}/members", {"member": _pid(project)}, format="json")
        bob.put(f"{IMAGES}/{iid}/members/{_pid('beta')}", {"status": "accepted"}, format="json")
    clients = {"owner": api, "accepted": bob, "pending": carol, "other": dave, "admin": admin_api}
    return images, clients


# (visibility, caller) -> (in the default list, may show and download)
EXPECTED = {
    ("private", "owner"): (True, True),
    ("private", "accepted"): (False, False),
    ("private", "pending"): (False, False),
    ("private", "other"): (False, False),
    ("private", "admin"): (True, True),
    ("shared", "owner"): (True, True),
    ("shared", "accepted"): (True, True),
    ("shared", "pending"): (False, True),
    ("shared", "other"): (False, False),
    ("shared", "admin"): (True, True),
    ("community", "owner"): (True, True),
    ("community", "accepted"): (False, True),
    ("community", "pending"): (False, True),
    ("community", "other"): (False, True),
    ("community", "admin"): (False, True),
    ("public", "owner"): (True, True),
    ("public", "accepted"): (True, True),
    ("public", "pending"): (True, True),
    ("public", "other"): (True, True),
    ("public", "admin"): (True, True),
}


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("caller", CALLERS)
def test_visibility_matrix(matrix, visibility, caller):
    images, clients = matrix
    client, iid = clients[caller], images[visibility]
    listed, visible = EXPECTED[(visibility, caller)]
    ids = [i["id"] for i in client.get(f"{IMAGES}?limit=1000").json()["images"]]
    assert (iid in ids) is listed
    shown = client.get(f"{IMAGES}/{iid}")
    assert shown.status_code == (200 if visible else 404)
    got = download(client, iid)
    assert got.status_code == (200 if visible else 404)
    if visible:
        assert body_of(got) == visibility.encode()


def test_list_filters_by_visibility_and_member_status(matrix):
    images, clients = matrix

    def listed(client, query):
        return {i["id"] for i in client.get(f"{IMAGES}?{query}").json()["images"]}

    community = listed(clients["other"], "visibility=community")
    assert images["community"] in community
    assert images["community"] in listed(clients["admin"], "visibility=community")
    assert images["community"] in listed(clients["other"], "visibility=all")
    assert images["shared"] in listed(clients["pending"], "member_status=pending")
    assert images["shared"] in listed(clients["pending"], "visibility=shared&member_status=all")
    assert images["shared"] not in listed(clients["pending"], "visibility=shared")
    assert images["shared"] in listed(clients["accepted"], "visibility=shared")
    assert listed(clients["accepted"], "visibility=private") == set()
    assert images["private"] in listed(clients["owner"], "visibility=private")


# --- transfer tokens -------------------------------------------------------------------


def test_transfer_token_download_and_upload(api, bob, store):
    image = create(api, name="hostside", visibility="private")
    anonymous = APIClient()
    token = image_transfer_token(image_id=image["id"], action="upload")
    put = anonymous.put(
        f"{IMAGES}/{image['id']}/file",
        data=b"snapshot-bytes",
        content_type="application/octet-stream",
        HTTP_X_IMAGE_TRANSFER_TOKEN=token,
    )
    assert put.status_code == 204
    get = download(anonymous, image["id"], HTTP_X_IMAGE_TRANSFER_TOKEN=token)
    assert get.status_code == 401  # an upload token does not download
    read = image_transfer_token(image_id=image["id"], action="download")
    got = download(anonymous, image["id"], HTTP_X_IMAGE_TRANSFER_TOKEN=read)
    assert got.status_code == 200 and body_of(got) == b"snapshot-bytes"
    other = create(api, name="other", visibility="private")
    assert download(anonymous, other["id"], HTTP_X_IMAGE_TRANSFER_TOKEN=read).status_code == 401
    assert download(anonymous, image["id"], HTTP_X_IMAGE_TRANSFER_TOKEN="forged").status_code == 401
    assert download(anonymous, image["id"]).status_code == 401
    # The token opens the data only, not the image record.
    response = anonymous.get(f"{IMAGES}/{image['id']}", HTTP_X_IMAGE_TRANSFER_TOKEN=read)
    assert response.status_code == 401


# --- admin -----------------------------------------------------------------------------


def test_admin_pages_show_images_and_members(client, admin_user):
    client.force_login(admin_user)
    image = Image.objects.create(
        name="admin-view", status="active", visibility="shared", owner="p1", size=4096
    )
    image.members.create(member="p2", status="accepted")
    listing = client.get("/admin/images/image/")
    assert listing.status_code == 200 and "admin-view" in listing.content.decode()
    page = client.get(f"/admin/images/image/{image.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200 and "p2" in text and "accepted" in text and "4096" in text


def test_uploads_of_a_dead_process_are_reaped(api, store):
    """An API process killed mid-upload leaves the image saving and partial bytes in the
    store's incoming directory; the reaper queues it again and removes them."""
    image = create(api, name="orphan")
    Image.objects.filter(pk=image["id"]).update(status="saving")
    incoming = store / ".incoming"
    incoming.mkdir(parents=True)
    partial = incoming / f"{image['id']}.abc123"
    partial.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(partial, (old, old))
    Image.objects.filter(pk=image["id"]).update(updated_at=timezone.now() - timedelta(hours=1))
    fresh = create(api, name="live")
    Image.objects.filter(pk=fresh["id"]).update(status="saving")
    live = incoming / f"{fresh['id']}.def456"
    live.write_bytes(b"streaming")
    out = io.StringIO()
    call_command("reap_image_uploads", stdout=out)
    assert "1 interrupted upload(s) reaped" in out.getvalue()
    assert Image.objects.get(pk=image["id"]).status == "queued"
    assert Image.objects.get(pk=fresh["id"]).status == "saving"
    assert not partial.exists() and live.exists()
