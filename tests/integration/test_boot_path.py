"""The boot and delete paths end to end: API -> conductor -> scheduler -> compute
(libvirt test hypervisor, no database) -> conductor, on PostgreSQL and Redis."""

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from cloud.instances.models import InstanceAction
from cloud.placement.models import Allocation
from cloud.rpc import call_compute
from tests.helpers import create_server, show, wait_gone, wait_status
from tests.integration.conftest import HOSTS, wait_for


def test_boot_reaches_active_with_a_real_domain_and_claim(admin_client):
    created = create_server(admin_client, "web-1")
    server = wait_status(admin_client, created["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    host = server["OS-EXT-SRV-ATTR:host"]
    assert host in HOSTS
    assert server["OS-EXT-STS:power_state"] == 1
    assert server["flavor"]["original_name"] == "m1.tiny"

    # The hypervisor itself knows the guest (diagnostics go to the host's worker).
    diag = admin_client.get(f"/compute/v2.1/servers/{created['id']}/diagnostics")
    assert diag.status_code == 200, diag.content
    assert diag.json()["state"] == "running"
    assert diag.json()["memory_details"]["maximum"] == 512
    assert created["id"] in call_compute(host, "compute.list_instances", timeout=10)

    claims = {
        a.resource_class: a.used for a in Allocation.objects.filter(consumer_id=created["id"])
    }
    assert claims == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    assert {a.provider.name for a in Allocation.objects.filter(consumer_id=created["id"])} == {host}

    events = InstanceAction.objects.get(instance_uuid=created["id"], action="create").events
    assert {(e.event, e.result) for e in events.all()} == {
        ("conductor_schedule_and_build_instances", "Success"),
        ("compute_build_and_run_instance", "Success"),
    }


def test_delete_removes_domain_and_frees_claim(admin_client):
    created = create_server(admin_client, "web-2")
    server = wait_status(admin_client, created["id"], {"ACTIVE"})
    host = server["OS-EXT-SRV-ATTR:host"]

    response = admin_client.delete(f"/compute/v2.1/servers/{created['id']}")
    assert response.status_code == 204
    wait_gone(admin_client, created["id"])

    assert not Allocation.objects.filter(consumer_id=created["id"]).exists()
    assert created["id"] not in call_compute(host, "compute.list_instances", timeout=10)
    listed = admin_client.get("/compute/v2.1/servers").json()["servers"]
    assert created["id"] not in {s["id"] for s in listed}


def test_delete_while_building_leaves_nothing_behind(admin_client):
    created = create_server(admin_client, "short-lived")
    assert admin_client.delete(f"/compute/v2.1/servers/{created['id']}").status_code == 204
    wait_gone(admin_client, created["id"])
    # Whatever stage the build had reached, no claim and no guest survive it.
    wait_for(
        lambda: not Allocation.objects.filter(consumer_id=created["id"]).exists(),
        15,
        message="claim freed",
    )
    for host in HOSTS:
        wait_for(
            lambda h=host: (
                created["id"] not in call_compute(h, "compute.list_instances", timeout=10)
            ),
            15,
            message=f"no guest on {host}",
        )


def _remote_ports(pid: int) -> set[int]:
    """Remote TCP ports of the sockets a process holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def test_compute_hosts_build_without_any_database(admin_client, cloud):
    created = create_server(admin_client, "no-db-proof")
    server = wait_status(admin_client, created["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE"
    broker_port = urlsplit(os.environ["CELERY_BROKER_URL"]).port or 6379
    database_port = int(settings.DATABASES["default"]["PORT"] or 5432)
    for host in HOSTS:
        pid = cloud.procs[host].pid
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        names = {item.split(b"=", 1)[0] for item in environ if item}
        assert b"DATABASE_URL" not in names
        assert b"DJANGO_SETTINGS_MODULE" not in names
        ports = _remote_ports(pid)
        assert broker_port in ports  # the check sees the host's connections...
        assert database_port not in ports  # ...and none goes to the database


def test_member_sees_own_servers_only_and_no_host(member_client, admin_client):
    mine = create_server(member_client, "mine")
    theirs = create_server(admin_client, "theirs")
    server = wait_status(member_client, mine["id"], {"ACTIVE"})
    assert "OS-EXT-SRV-ATTR:host" not in server
    assert server["hostId"]
    assert show(member_client, theirs["id"]) is None
    listed = {s["id"] for s in member_client.get("/compute/v2.1/servers/detail").json()["servers"]}
    assert listed == {mine["id"]}
    assert member_client.delete(f"/compute/v2.1/servers/{theirs['id']}").status_code == 404
    wait_status(admin_client, theirs["id"], {"ACTIVE"})
