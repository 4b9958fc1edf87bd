"""The README's journey, unmodified: the `openstack` CLI and openstacksdk against the
real processes, with the guest proven present on (and then gone from) its host."""

import json
import os
import time

import openstack
import pytest
import requests
from celery import Celery
from openstack.config.loader import OpenStackConfig

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

HOSTS = {"compute-1", "compute-2", "compute-3"}


def _domains_on(stack: RunningStack, host: str) -> list[str]:
    """Ask the compute worker's own libvirt connection which guests it has."""
    # Celery prefers CELERY_* environment variables (the test session's Redis) over
    # the URLs given here, so hide them while talking to the stack's private Redis.
    hidden = {
        k: os.environ.pop(k)
        for k in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        if k in os.environ
    }
    try:
        app = Celery(
            broker=f"redis://127.0.0.1:{stack.redis_port}/0",
            backend=f"redis://127.0.0.1:{stack.redis_port}/1",
        )
        result = app.send_task("compute.list_instances", queue=f"compute.{host}")
        try:
            return result.get(timeout=20)
        finally:
            result.forget()
    finally:
        os.environ.update(hidden)


def _connect(stack: RunningStack, cloud: str) -> openstack.connection.Connection:
    """openstack.connect(cloud=...) as a user would, reading the stack's clouds.yaml."""
    config = OpenStackConfig(config_files=[str(stack.clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


def test_cli_journey(stack: RunningStack):
    flavors = json.loads(stack.openstack("flavor", "list", "-f", "json"))
    assert {f["Name"]: (f["RAM"], f["Disk"], f["VCPUs"]) for f in flavors} == {
        "m1.tiny": (512, 1, 1),
        "m1.small": (2048, 20, 1),
        "m1.medium": (4096, 40, 2),
        "m1.large": (8192, 80, 4),
        "m1.xlarge": (16384, 160, 8),
    }
    images = json.loads(stack.openstack("image", "list", "-f", "json"))
    assert [i["Name"] for i in images] == ["tiny"]

    created = json.loads(
        stack.openstack(
            "server",
            "create",
            "--flavor",
            "m1.tiny",
            "--image",
            "tiny",
            "--wait",
            "vm1",
            "-f",
            "json",
        )
    )
    assert created["status"] == "ACTIVE"
    listed = json.loads(stack.openstack("server", "list", "-f", "json"))
    assert [(s["Name"], s["Status"]) for s in listed] == [("vm1", "ACTIVE")]

    shown = json.loads(stack.openstack("server", "show", "vm1", "-f", "json"))
    host = shown["OS-EXT-SRV-ATTR:host"]
    assert host in HOSTS
    assert created["id"] in _domains_on(stack, host)
    diagnostics = json.loads(
        stack.openstack(
            "--os-compute-api-version",
            "2.48",
            "server",
            "show",
            "--diagnostics",
            "vm1",
            "-f",
            "json",
        )
    )
    assert diagnostics["state"] == "running"

    stack.openstack("server", "delete", "--wait", "vm1")
    assert json.loads(stack.openstack("server", "list", "-f", "json")) == []
    assert created["id"] not in _domains_on(stack, host)


def test_sdk_journey(stack: RunningStack):
    conn = _connect(stack, "stratus")
    flavor = conn.compute.find_flavor("m1.tiny")
    image = conn.image.find_image("tiny")
    server = conn.compute.create_server(
        name="sdk-vm", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=1, wait=60)
    assert server.compute_host in HOSTS
    assert server.id in _domains_on(stack, server.compute_host)
    assert [s.name for s in conn.compute.servers()] == ["sdk-vm"]
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=1, wait=60)
    assert server.id not in _domains_on(stack, server.compute_host)


def test_demo_user_cannot_see_admin_servers(stack: RunningStack):
    demo = _connect(stack, "stratus-demo")
    admin = _connect(stack, "stratus")
    image = admin.image.find_image("tiny")
    theirs = admin.compute.create_server(
        name="admins", flavor_id="1", image_id=image.id, networks="none"
    )
    try:
        assert list(demo.compute.servers()) == []
        assert demo.compute.find_server(theirs.id) is None
    finally:
        admin.compute.delete_server(theirs)
        admin.compute.wait_for_delete(theirs, interval=1, wait=60)


def test_operator_pages(stack: RunningStack):
    session = requests.Session()
    for path in ("/api/schema/", "/api/docs/", "/admin/login/"):
        assert session.get(stack.base + path, timeout=10).status_code == 200, path
    schema = session.get(stack.base + "/api/schema/?format=json", timeout=10).json()
    assert "/compute/v2.1/servers" in schema["paths"]

    # The browsable API after a session login with the same user and password,
    # asked for as a browser asks (HTML first).
    session.headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
    login = session.get(stack.base + "/api-auth/login/", timeout=10)
    token = login.cookies["csrftoken"]
    auth = stack.credentials()
    response = session.post(
        stack.base + "/api-auth/login/",
        data={
            "username": auth["username"],
            "password": auth["password"],
            "csrfmiddlewaretoken": token,
            "next": "/compute/v2.1/flavors",
        },
        headers={"Referer": stack.base + "/api-auth/login/"},
        timeout=10,
    )
    assert response.status_code == 200
    assert "m1.tiny" in response.text and "<html" in response.text.lower()
    admin = session.get(stack.base + "/admin/instances/instance/", timeout=10)
    assert admin.status_code == 200 and "Select instance" in admin.text

    flower = None
    for _ in range(30):
        try:
            flower = requests.get(f"http://127.0.0.1:{stack.flower_port}/", timeout=5)
            break
        except requests.ConnectionError:
            time.sleep(1)
    assert flower is not None and flower.status_code == 200
