"""Resize end to end on the test hypervisor: API -> conductor -> scheduler -> the source
and destination compute workers -> conductor, with allocations held on both hosts
while unconfirmed, confirm, revert, auto-confirm, the quota counting the larger
flavor, the state machine's 409s and the admin's os-migrations list."""

from datetime import timedelta

from django.utils import timezone

from cloud.conductor.resize import resizes_confirm_due
from cloud.conductor.services import allocations_reap_orphans
from cloud.instances.models import Flavor, InstanceAction, Migration
from cloud.placement.models import Allocation
from cloud.rpc import call_compute
from tests.helpers import create_server, show
from tests.integration.conftest import HOSTS, _client, wait_for

V21 = "/compute/v2.1"
SERVERS = f"{V21}/servers"


def _act(client, server_id: str, body: dict):
    # As openstacksdk sends actions: with an empty Accept header.
    return client.post(f"{SERVERS}/{server_id}/action", body, format="json", HTTP_ACCEPT="")


def _settled(client, server_id: str, status: str, timeout: float = 30) -> dict:
    """`status` with no task running (the conductor wrote the outcome)."""
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


def _active(client, name: str, flavor: str = "1") -> dict:
    created = create_server(client, name, flavor=flavor)
    return _settled(client, created["id"], "ACTIVE")


def _resized(client, server_id: str, flavor: str) -> dict:
    response = _act(client, server_id, {"resize": {"flavorRef": flavor}})
    assert response.status_code == 202, response.content
    assert response.content == b""
    return _settled(client, server_id, "VERIFY_RESIZE")


def _held(consumer: str) -> dict[str, dict[str, int]]:
    """What a placement consumer holds: {host: {class: amount}}."""
    found: dict[str, dict[str, int]] = {}
    rows = Allocation.objects.filter(consumer_id=consumer).values_list(
        "provider__name", "resource_class", "used"
    )
    for host, resource_class, used in rows:
        found.setdefault(host, {})[resource_class] = used
    return found


def _guests(host: str) -> list[str]:
    return call_compute(host, "compute.list_instances", timeout=10)


def _diagnostics(admin_client, server_id: str) -> dict:
    response = admin_client.get(f"{SERVERS}/{server_id}/diagnostics")
    assert response.status_code == 200, response.content
    return response.json()


def _events(server_id: str, action: str) -> list[tuple[str, str | None, str | None]]:
    record = InstanceAction.objects.get(instance_uuid=server_id, action=action)
    assert record.finish_time is not None
    return [(e.event, e.result, e.host) for e in record.events.all()]


def _other(host: str) -> str:
    (other,) = set(HOSTS) - {host}
    return other


TINY = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
SMALL = {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}


def test_resize_holds_both_hosts_until_confirmed(admin_client):
    server = _active(admin_client, "grow")
    uuid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    dest = _other(source)

    resized = _resized(admin_client, uuid, "2")
    assert resized["OS-EXT-SRV-ATTR:host"] == dest
    assert (resized["OS-EXT-STS:vm_state"], resized["OS-EXT-STS:power_state"]) == ("resized", 1)
    assert resized["flavor"]["original_name"] == "m1.small"
    assert resized["progress"] == 100
    migration = Migration.objects.get(instance_uuid=uuid)
    assert (migration.status, migration.source_compute, migration.dest_compute) == (
        "finished",
        source,
        dest,
    )
    assert migration.migration_type == "resize"
    assert _held(uuid) == {dest: SMALL}
    assert _held(str(migration.uuid)) == {source: TINY}
    assert _diagnostics(admin_client, uuid)["memory_details"]["maximum"] == 2048
    assert uuid in _guests(source) and uuid in _guests(dest)
    assert _events(uuid, "resize") == [
        ("conductor_migrate_server", "Success", dest),
        ("compute_resize_instance", "Success", source),
        ("compute_finish_resize", "Success", dest),
    ]

    response = _act(admin_client, uuid, {"confirmResize": None})
    assert response.status_code == 204, response.content
    confirmed = _settled(admin_client, uuid, "ACTIVE")
    assert confirmed["OS-EXT-SRV-ATTR:host"] == dest
    assert confirmed["flavor"]["original_name"] == "m1.small"
    wait_for(lambda: uuid not in _guests(source), 10, message="guest left the source")
    migration.refresh_from_db()
    assert migration.status == "confirmed"
    assert _held(str(migration.uuid)) == {}
    assert _held(uuid) == {dest: SMALL}
    assert _events(uuid, "confirmResize") == [("compute_confirm_resize", "Success", source)]

    listed = admin_client.get(f"{V21}/os-migrations", {"instance_uuid": uuid}).json()
    (row,) = listed["migrations"]
    assert (row["uuid"], row["status"], row["migration_type"]) == (
        str(migration.uuid),
        "confirmed",
        "resize",
    )
    assert (row["source_compute"], row["dest_compute"]) == (source, dest)
    assert row["old_instance_type_id"] == Flavor.objects.get(flavorid="1").id
    assert row["new_instance_type_id"] == Flavor.objects.get(flavorid="2").id


def test_revert_brings_the_old_flavor_back_on_the_source(member_client, admin_client):
    server = _active(member_client, "shrink-back")
    uuid = server["id"]
    source = show(admin_client, uuid)["OS-EXT-SRV-ATTR:host"]
    dest = _other(source)
    _resized(member_client, uuid, "2")
    migration = Migration.objects.get(instance_uuid=uuid)

    response = _act(member_client, uuid, {"revertResize": None})
    assert response.status_code == 202, response.content
    assert show(member_client, uuid)["status"] in ("REVERT_RESIZE", "ACTIVE")
    reverted = _settled(admin_client, uuid, "ACTIVE")
    assert reverted["OS-EXT-SRV-ATTR:host"] == source
    assert reverted["flavor"]["original_name"] == "m1.tiny"
    assert reverted["OS-EXT-STS:power_state"] == 1
    assert _diagnostics(admin_client, uuid)["memory_details"]["maximum"] == 512
    migration.refresh_from_db()
    assert migration.status == "reverted"
    assert _held(uuid) == {source: TINY}
    assert _held(str(migration.uuid)) == {}
    assert uuid not in _guests(dest)
    assert _events(uuid, "revertResize") == [
        ("compute_revert_resize", "Success", dest),
        ("compute_finish_revert_resize", "Success", source),
    ]


def test_a_stopped_server_is_resized_stopped_and_stays_stopped(admin_client):
    server = _active(admin_client, "cold")
    uuid = server["id"]
    assert _act(admin_client, uuid, {"os-stop": None}).status_code == 202
    _settled(admin_client, uuid, "SHUTOFF")
    resized = _resized(admin_client, uuid, "2")
    assert resized["OS-EXT-STS:power_state"] == 4
    assert _act(admin_client, uuid, {"confirmResize": None}).status_code == 204
    confirmed = _settled(admin_client, uuid, "SHUTOFF")
    assert confirmed["OS-EXT-STS:vm_state"] == "stopped"


def _usage(admin_client, project_id: str) -> dict[str, int]:
    response = admin_client.get(f"{V21}/os-quota-sets/{project_id}/detail")
    assert response.status_code == 200, response.content
    quota_set = response.json()["quota_set"]
    return {name: quota_set[name]["in_use"] for name in ("cores", "ram")}


def test_quota_counts_the_larger_flavor_until_confirmed(member_client, admin_client):
    Flavor.objects.create(
        flavorid="small-ram", name="s1.lowram", memory_mb=512, vcpus=1, root_gb=20
    )
    server = _active(member_client, "quota-sized", flavor="2")
    uuid, project = server["id"], server["tenant_id"]
    response = admin_client.put(
        f"{V21}/os-quota-sets/{project}", {"quota_set": {"ram": 3000}}, format="json"
    )
    assert response.status_code == 200, response.content

    refused = _act(member_client, uuid, {"resize": {"flavorRef": "3"}})  # 4096 MB > 3000
    assert refused.status_code == 403, refused.content
    assert "Quota exceeded for ram" in refused.json()["forbidden"]["message"]
    assert show(member_client, uuid)["status"] == "ACTIVE"
    assert Migration.objects.filter(instance_uuid=uuid).count() == 0

    _resized(member_client, uuid, "small-ram")  # down to 512 MB, unconfirmed
    assert _usage(admin_client, project) == {"cores": 1, "ram": 2048}
    # The old flavor is still held: another 2048 MB server does not fit.
    over = member_client.post(
        f"{V21}/servers",
        {
            "server": {
                "name": "over",
                "imageRef": server["image"]["id"],
                "flavorRef": "2",
                "networks": "none",
            }
        },
        format="json",
    )
    assert over.status_code == 403, over.content
    assert _act(member_client, uuid, {"confirmResize": None}).status_code == 204
    _settled(member_client, uuid, "ACTIVE")
    wait_for(
        lambda: _usage(admin_client, project) == {"cores": 1, "ram": 512},
        10,
        message="usage of the confirmed flavor",
    )


def test_conflicts_and_bad_requests(admin_client):
    server = _active(admin_client, "picky")
    uuid = server["id"]
    for body in ({"confirmResize": None}, {"revertResize": None}):
        response = _act(admin_client, uuid, body)
        assert response.status_code == 409, response.content
        assert "vm_state active" in response.json()["conflictingRequest"]["message"]
    same = _act(admin_client, uuid, {"resize": {"flavorRef": "1"}})
    assert same.status_code == 400
    assert "must change flavor" in same.json()["badRequest"]["message"]
    assert _act(admin_client, uuid, {"resize": {"flavorRef": "nope"}}).status_code == 400
    assert _act(admin_client, uuid, {"resize": {}}).status_code == 400

    assert _act(admin_client, uuid, {"pause": None}).status_code == 202
    _settled(admin_client, uuid, "PAUSED")
    paused = _act(admin_client, uuid, {"resize": {"flavorRef": "2"}})
    assert paused.status_code == 409
    assert "vm_state paused" in paused.json()["conflictingRequest"]["message"]
    assert _act(admin_client, uuid, {"unpause": None}).status_code == 202
    _settled(admin_client, uuid, "ACTIVE")

    assert _act(admin_client, uuid, {"resize": {"flavorRef": "2"}}).status_code == 202
    # Under way or already waiting resized: no second resize either way.
    assert _act(admin_client, uuid, {"resize": {"flavorRef": "3"}}).status_code == 409
    _settled(admin_client, uuid, "VERIFY_RESIZE")
    assert _act(admin_client, uuid, {"confirmResize": None}).status_code == 204
    again = _act(admin_client, uuid, {"revertResize": None})
    assert again.status_code in (400, 409), again.content
    _settled(admin_client, uuid, "ACTIVE")
    again = _act(admin_client, uuid, {"confirmResize": None})
    assert again.status_code == 409


def test_deleting_a_resized_server_frees_both_hosts(admin_client):
    server = _active(admin_client, "doomed")
    uuid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    dest = _other(source)
    _resized(admin_client, uuid, "2")
    migration = Migration.objects.get(instance_uuid=uuid)
    assert admin_client.delete(f"{SERVERS}/{uuid}").status_code == 204
    wait_for(lambda: show(admin_client, uuid) is None, 30, message="deleted")
    assert _held(uuid) == {} and _held(str(migration.uuid)) == {}
    wait_for(lambda: uuid not in _guests(source), 10, message="source guest removed")
    assert uuid not in _guests(dest)
    migration.refresh_from_db()
    assert migration.status == "error"


def test_a_resize_left_unconfirmed_past_the_window_confirms_itself(admin_client):
    server = _active(admin_client, "forgotten")
    uuid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    _resized(admin_client, uuid, "2")
    migration = Migration.objects.get(instance_uuid=uuid)
    assert resizes_confirm_due(window_seconds=3600) == 0
    Migration.objects.filter(pk=migration.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert resizes_confirm_due(window_seconds=0) == 0  # off
    assert resizes_confirm_due(window_seconds=3600) == 1
    _settled(admin_client, uuid, "ACTIVE")
    migration.refresh_from_db()
    assert migration.status == "confirmed"
    assert _held(str(migration.uuid)) == {}
    assert uuid not in _guests(source)
    assert [e for e, _, _ in _events(uuid, "confirmResize")] == ["compute_confirm_resize"]


def test_only_admins_list_migrations(member_client):
    assert member_client.get(f"{V21}/os-migrations").status_code == 403


def test_a_member_of_another_project_cannot_resize(member_client):
    server = _active(member_client, "mine")
    other = _client("bob", "beta", "member")
    response = _act(other, server["id"], {"resize": {"flavorRef": "2"}})
    assert response.status_code == 404


def test_a_resize_no_host_can_take_leaves_the_server_as_it_was(admin_client):
    server = _active(admin_client, "too-big")
    uuid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    response = _act(admin_client, uuid, {"resize": {"flavorRef": "4"}})  # 8192 MB: no host
    assert response.status_code == 202, response.content
    wait_for(
        lambda: Migration.objects.filter(instance_uuid=uuid, status="error").exists(),
        30,
        message="the resize ended",
    )
    after = _settled(admin_client, uuid, "ACTIVE")
    assert after["OS-EXT-SRV-ATTR:host"] == source
    assert after["flavor"]["original_name"] == "m1.tiny"
    migration = Migration.objects.get(instance_uuid=uuid)
    assert _held(uuid) == {source: TINY}
    assert _held(str(migration.uuid)) == {}
    record = InstanceAction.objects.get(instance_uuid=uuid, action="resize")
    assert record.message == "Error"
    ((event, result, details),) = record.events.values_list("event", "result", "details")
    assert (event, result) == ("conductor_migrate_server", "Error")
    assert "No valid host" in details


def test_the_orphan_reaper_leaves_an_unconfirmed_resize_its_source(admin_client):
    server = _active(admin_client, "patient")
    uuid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    _resized(admin_client, uuid, "2")
    migration = Migration.objects.get(instance_uuid=uuid)
    Allocation.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert allocations_reap_orphans(older_than_seconds=60) == 0
    assert _held(str(migration.uuid)) == {source: TINY}
    Migration.objects.filter(pk=migration.pk).update(status="error")
    assert allocations_reap_orphans(older_than_seconds=60) == 1
    assert _held(str(migration.uuid)) == {}


def test_the_admin_lists_migrations(client, admin_user, db):
    Migration.objects.create(
        instance_uuid="5d7c1c8e-0000-4000-8000-000000000003",
        source_compute="cmp-1",
        source_node="cmp-1",
        dest_compute="cmp-2",
        old_flavor={"flavorid": "1"},
        new_flavor={"flavorid": "2"},
        old_vm_state="active",
        status="finished",
    )
    client.force_login(admin_user)
    page = client.get("/admin/instances/migration/?status=finished")
    assert page.status_code == 200
    assert "cmp-2" in page.content.decode()
