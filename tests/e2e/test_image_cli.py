"""Images with the real `openstack` CLI against the real stack: upload a raw image, list
and show it, save it back byte for byte (the CLI verifies the sha512 multihash), set
properties and tags, deactivate and activate, share it with another project that
accepts it, and delete it; an upload cut mid-stream leaves no bytes; openstacksdk's
image proxy does the same."""

import json
import os
import socket
import time
from pathlib import Path

import openstack
import pytest
import requests
import yaml

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str, cloud: str = "stratus-demo"):
    return json.loads(_cli(stack, *args, "-f", "json", cloud=cloud))


def _cli(stack: RunningStack, *args: str, cloud: str = "stratus-demo") -> str:
    return stack.openstack("--os-cloud", cloud, *args)


def test_image_journey(stack: RunningStack, tmp_path: Path):
    source = tmp_path / "disk.raw"
    data = os.urandom(3 * 1024 * 1024 + 123)
    source.write_bytes(data)
    created = _json(
        stack,
        "image",
        "create",
        "--file",
        str(source),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "--shared",
        "--min-disk",
        "1",
        "e2e-image",
    )
    image_id = created["id"]
    try:
        assert created["status"] == "active" and created["size"] == len(data)
        listed = _json(stack, "image", "list")
        assert image_id in [i["ID"] for i in listed]
        shown = _json(stack, "image", "show", "e2e-image")
        assert shown["id"] == image_id and shown["disk_format"] == "raw"
        assert shown["virtual_size"] == len(data) and shown["min_disk"] == 1

        saved = tmp_path / "saved.raw"
        _cli(stack, "image", "save", "--file", str(saved), image_id)
        assert saved.read_bytes() == data

        _cli(stack, "image", "set", "--property", "os_distro=cirros", "--tag", "e2e", image_id)
        shown = _json(stack, "image", "show", image_id)
        assert shown["properties"]["os_distro"] == "cirros"
        assert shown["tags"] == ["e2e"]
        _cli(stack, "image", "unset", "--property", "os_distro", image_id)
        assert "os_distro" not in _json(stack, "image", "show", image_id)["properties"]

        _cli(stack, "image", "set", "--deactivate", image_id)
        assert _json(stack, "image", "show", image_id)["status"] == "deactivated"
        _cli(stack, "image", "set", "--activate", image_id)
        assert _json(stack, "image", "show", image_id)["status"] == "active"

        # Shared with the admin project: pending (not listed there) until it accepts.
        admin_project = _json(stack, "project", "show", "admin", cloud="stratus")["id"]
        member = _json(stack, "image", "add", "project", image_id, admin_project)
        assert member["status"] == "pending"
        members = _json(stack, "image", "member", "list", image_id)
        assert [m["Member ID"] for m in members] == [admin_project]
        _cli(stack, "image", "set", "--accept", image_id, cloud="stratus")
        members = _json(stack, "image", "member", "list", image_id)
        assert members[0]["Status"] == "accepted"
        _cli(stack, "image", "remove", "project", image_id, admin_project)
        assert _json(stack, "image", "member", "list", image_id) == []
    finally:
        _cli(stack, "image", "delete", image_id)
    assert image_id not in [i["ID"] for i in _json(stack, "image", "list")]
    assert not list((stack.var / "images").glob(f"{image_id}*"))


def _token(stack: RunningStack) -> str:
    auth = yaml.safe_load(stack.clouds_yaml.read_text())["clouds"]["stratus-demo"]["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "domain": {"name": "Default"},
                        "password": auth["password"],
                    }
                },
            },
            "scope": {"project": {"name": auth["project_name"], "domain": {"name": "Default"}}},
        }
    }
    reply = requests.post(f"{stack.base}/identity/v3/auth/tokens", json=body, timeout=30)
    reply.raise_for_status()
    return reply.headers["X-Subject-Token"]


def test_upload_cut_mid_stream_leaves_no_bytes(stack: RunningStack):
    """A client that goes away after 3 of the 10 MB it announced: the image is queued
    again, and neither the store nor its incoming directory keeps a byte."""
    headers = {"X-Auth-Token": _token(stack)}
    images = f"{stack.base}/image/v2/images"
    image = requests.post(
        images,
        json={"name": "cut", "disk_format": "raw", "container_format": "bare"},
        headers=headers,
        timeout=30,
    ).json()
    try:
        with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
            sock.sendall(
                (
                    f"PUT /image/v2/images/{image['id']}/file HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{stack.port}\r\n"
                    f"X-Auth-Token: {headers['X-Auth-Token']}\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Length: 10000000\r\n\r\n"
                ).encode()
            )
            for _ in range(3):
                sock.sendall(os.urandom(1_000_000))
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            status = requests.get(f"{images}/{image['id']}", headers=headers, timeout=30).json()[
                "status"
            ]
            if status == "queued":
                break
            time.sleep(0.2)
        assert status == "queued"
        store = stack.var / "images"
        assert [p for p in store.rglob("*") if p.is_file()] == []
    finally:
        requests.delete(f"{images}/{image['id']}", headers=headers, timeout=30)


def _sdk(stack: RunningStack, cloud: str):
    auth = yaml.safe_load(stack.clouds_yaml.read_text())["clouds"][cloud]["auth"]
    return openstack.connection.Connection(
        auth_url=auth["auth_url"],
        username=auth["username"],
        password=auth["password"],
        project_name=auth["project_name"],
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
    )


def test_sdk_image_proxy(stack: RunningStack, tmp_path: Path):
    """openstacksdk's image proxy, unchanged: create with data, download with its hash
    check, tags, update, community listing, members, delete."""
    demo, admin = _sdk(stack, "stratus-demo"), _sdk(stack, "stratus")
    source = tmp_path / "sdk.raw"
    data = os.urandom(1024 * 1024 + 7)
    source.write_bytes(data)
    image = demo.image.create_image(
        "sdk-image",
        filename=str(source),
        disk_format="raw",
        container_format="bare",
        visibility="shared",
        wait=True,
    )
    try:
        image = demo.image.get_image(image.id)  # create_image returns the queued record
        assert image.status == "active" and image.hash_algo == "sha512"
        out = tmp_path / "sdk-out.raw"
        demo.image.download_image(image, output=str(out))
        assert out.read_bytes() == data
        demo.image.add_tag(image.id, "sdk")
        demo.image.update_image(image, hw_disk_bus="virtio", min_ram=128, stratus_note="e2e")
        fetched = demo.image.get_image(image)
        assert fetched.tags == ["sdk"] and fetched.min_ram == 128
        assert fetched.hw_disk_bus == "virtio" and fetched.properties["stratus_note"] == "e2e"
        admin_project = admin.current_project_id
        demo.image.add_member(image, member_id=admin_project)
        admin.image.update_member(admin_project, image, status="accepted")
        members = list(demo.image.members(image))
        assert [(m.member_id, m.status) for m in members] == [(admin_project, "accepted")]
        demo.image.update_image(image, visibility="community")
        community = [i.id for i in admin.image.images(visibility="community")]
        assert image.id in community
    finally:
        demo.image.delete_image(image)
    assert demo.image.find_image(image.id) is None
