"""Rolling upgrade of the control plane: this api (payload version N), with its upgrade
levels pinned to N-1 (UPGRADE_LEVEL_CONDUCTOR / UPGRADE_LEVEL_SCHEDULER, as Nova's
[upgrade_levels]), works with a conductor and a scheduler pinned to N-1
(PAYLOAD_VERSION_PIN: they read and write as the older release did, and refuse what
it could not have read). The session's own conductor and schedulers are stopped
meanwhile, so every message of a boot into a server group, a resize and its confirm
(conductor -> scheduler -> conductor hand-offs) and a delete went through the pinned
workers.
"""

import uuid

import pytest
from django.utils import timezone

from cloud.celery import app
from cloud.hosts.models import ComputeNode
from cloud.instances.models import Migration
from cloud.payloads import PAYLOAD_VERSION, SchedulingRequest, previous_version
from cloud.placement.models import Allocation
from cloud.rpc import upgrade_level
from cloud.scheduler.models import ServerGroupMember
from tests.helpers import show, wait_gone
from tests.integration.conftest import HOSTS, wait_for
from tests.integration.test_scheduling_constraints import boot

OLD = previous_version()
PINNED = {
    "PAYLOAD_VERSION_PIN": OLD,
    "UPGRADE_LEVEL_CONDUCTOR": OLD,
    "UPGRADE_LEVEL_SCHEDULER": OLD,
}
V21 = "/compute/v2.1"
CURRENT = ("conductor", "scheduler-1", "scheduler-2")


@pytest.fixture
def old_control_plane(cloud, settings):
    """The conductor and one scheduler one payload version behind, for this test only;
    the api side's upgrade levels pinned to that version."""
    for name in CURRENT:
        cloud.stop_one(name)
    cloud.start_conductor(**PINNED)
    cloud.start_scheduler(1, **PINNED)
    _heard_from_every_host(cloud, "the pinned conductor")
    settings.UPGRADE_LEVELS = {"conductor": OLD, "scheduler": OLD}
    try:
        yield cloud
    finally:
        cloud.stop_one("conductor")
        cloud.stop_one("scheduler-1")
        cloud.start_conductor()
        for index in (1, 2):
            cloud.start_scheduler(index)
        _heard_from_every_host(cloud, "the conductor of this version again")


def _heard_from_every_host(cloud, who: str) -> None:
    """Wait until `who` (the conductor just started) recorded a heartbeat of every host
    sent after it started: the hosts are up for the scheduler again."""
    started = timezone.now()
    wait_for(
        lambda: (
            ComputeNode.objects.filter(host__in=HOSTS, last_seen_at__gt=started).count()
            == len(HOSTS)
        ),
        30,
        message=f"heartbeats handled by {who}; dead workers: {cloud.dead()}",
    )


def _settled(client, server_id: str, status: str, timeout: float = 40) -> dict:
    wait_for(
        lambda: (
            (s := show(client, server_id))
            and s["status"] in {status, "ERROR"}
            and s["OS-EXT-STS:task_state"] is None
        ),
        timeout,
        message=f"{server_id} settled in {status}",
    )
    server = show(client, server_id)
    assert server["status"] == status, server.get("fault")
    return server


def _act(client, server_id: str, body: dict):
    return client.post(f"{V21}/servers/{server_id}/action", body, format="json")


def test_a_control_plane_one_version_behind_boots_resizes_and_deletes(
    admin_client, old_control_plane
):
    assert OLD != PAYLOAD_VERSION
    assert upgrade_level("conductor") == upgrade_level("scheduler") == OLD
    assert "scheduler-2" not in old_control_plane.procs

    group = admin_client.post(
        f"{V21}/os-server-groups",
        {"server_group": {"name": "old-plane", "policy": "anti-affinity"}},
        format="json",
    ).json()["server_group"]
    created = {"id": boot(admin_client, "old-plane-vm", {"group": group["id"]})}
    server = _settled(admin_client, created["id"], "ACTIVE")
    source = server["OS-EXT-SRV-ATTR:host"]
    assert source in HOSTS
    assert ServerGroupMember.objects.get(instance_uuid=created["id"]).host == source

    response = _act(admin_client, created["id"], {"resize": {"flavorRef": "2"}})
    assert response.status_code == 202, response.content
    resized = _settled(admin_client, created["id"], "VERIFY_RESIZE")
    (dest,) = set(HOSTS) - {source}
    assert resized["OS-EXT-SRV-ATTR:host"] == dest
    assert _act(admin_client, created["id"], {"confirmResize": None}).status_code == 204
    confirmed = _settled(admin_client, created["id"], "ACTIVE")
    assert confirmed["flavor"]["original_name"] == "m1.small"
    assert Migration.objects.get(instance_uuid=created["id"]).status == "confirmed"

    assert admin_client.delete(f"{V21}/servers/{created['id']}").status_code == 204
    wait_gone(admin_client, created["id"])
    assert not Allocation.objects.filter(consumer_id=created["id"]).exists()
    assert not ServerGroupMember.objects.filter(instance_uuid=created["id"]).exists()

    # Pinned for real: a request in the current version is refused, and nothing claimed.
    newer = SchedulingRequest(
        instance_uuid=str(uuid.uuid4()),
        project_id="p",
        resources={"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1},
    )
    app.send_task("scheduler.select_destinations", args=[newer.to_dict()])
    log = old_control_plane.logdir / "scheduler-1.log"
    wait_for(
        lambda: f"this side speaks payload version {OLD}" in log.read_text(errors="replace"),
        20,
        message="the pinned scheduler refused a message newer than it speaks",
    )
    assert not Allocation.objects.filter(consumer_id=newer.instance_uuid).exists()
