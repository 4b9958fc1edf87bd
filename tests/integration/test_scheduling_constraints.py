"""What a boot asks of the scheduler, end to end through the real workers (conductor, two
scheduler processes, compute hosts itest-a and itest-b): server groups (affinity,
anti-affinity with max_server_per_host), zones from aggregates, an admin's forced host,
same_host / different_host / query hints, and disabled hosts.

Both hosts have room for five m1.tiny servers, and the RAM weigher prefers the host
with more free memory, so a placement against that preference proves its constraint.
"""

import json
import os
import threading
from collections import Counter
from datetime import timedelta

import redis
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from cloud.hosts.models import ComputeNode
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance
from cloud.placement.claims import InventorySpec, provider_sync
from cloud.scheduler.models import ServerGroupMember
from tests.helpers import token_for, wait_gone, wait_status
from tests.integration.conftest import HOST_CPUS, HOST_DISK_GB, HOSTS, wait_for

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def boot(client: APIClient, name: str, hints: dict | None = None, **server) -> str:
    """Create a server (hints beside "server", as Nova takes them); its id."""
    body: dict = {
        "server": {
            "name": name,
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": "1",
            "networks": "none",
            **server,
        }
    }
    if hints:
        body["os:scheduler_hints"] = hints
    reply = client.post(f"{V}/servers", body, format="json")
    assert reply.status_code == 202, reply.content
    return reply.json()["server"]["id"]


def host_of(client: APIClient, server_id: str) -> str:
    server = wait_status(client, server_id, {"ACTIVE"}, timeout=60)
    return server["OS-EXT-SRV-ATTR:host"]


def delete_all(client: APIClient, server_ids: list[str]) -> None:
    for server_id in server_ids:
        assert client.delete(f"{V}/servers/{server_id}").status_code == 204
    for server_id in server_ids:
        wait_gone(client, server_id, timeout=60)


def group(client: APIClient, policy: str, **rules) -> str:
    body = {"name": f"{policy}-group", "policy": policy, "rules": rules}
    reply = client.post(f"{V}/os-server-groups", {"server_group": body}, format="json", **LATEST)
    assert reply.status_code == 200, reply.content
    return reply.json()["server_group"]["id"]


def boot_in_parallel(count: int, hints: dict) -> list[str]:
    """`count` creates at once, each its own client and database connection."""
    token = token_for("admin", "admin")
    barrier = threading.Barrier(count)
    ids: list[str] = []
    errors: list[BaseException] = []

    def one(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=token, **LATEST)
        barrier.wait()
        try:
            ids.append(boot(client, f"par-{index}", hints))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return ids


def test_anti_affinity_with_max_server_per_host(admin_client):
    group_id = group(admin_client, "anti-affinity", max_server_per_host=2)
    ids = boot_in_parallel(4, {"group": group_id})
    placed = Counter(host_of(admin_client, i) for i in ids)
    assert placed == {"itest-a": 2, "itest-b": 2}
    members = ServerGroupMember.objects.filter(instance_uuid__in=ids)
    assert Counter(members.values_list("host", flat=True)) == placed

    fifth = boot(admin_client, "fifth", {"group": group_id})
    server = wait_status(admin_client, fifth, {"ERROR"})
    assert (
        f"2 already held members of anti-affinity group {group_id}" in (server["fault"]["message"])
    )
    shown = admin_client.get(f"{V}/os-server-groups/{group_id}").json()["server_group"]
    assert sorted(shown["members"]) == sorted([*ids, fifth])
    delete_all(admin_client, [*ids, fifth])
    assert not ServerGroupMember.objects.exists()


def test_affinity_keeps_parallel_boots_together(admin_client):
    group_id = group(admin_client, "affinity")
    ids = boot_in_parallel(3, {"group": group_id})
    hosts = {host_of(admin_client, i) for i in ids}
    assert len(hosts) == 1
    # The other host has more room, yet the next member joins the group's host.
    later = boot(admin_client, "later", {"group": group_id})
    assert host_of(admin_client, later) == hosts.pop()
    shown = admin_client.get(f"{V}/servers/{later}", **LATEST).json()["server"]
    assert shown["server_groups"] == [group_id]
    delete_all(admin_client, [*ids, later])


def test_a_zone_from_an_aggregate(admin_client):
    agg = admin_client.post(
        f"{V}/os-aggregates",
        {"aggregate": {"name": "b", "availability_zone": "az1"}},
        format="json",
    ).json()["aggregate"]
    added = admin_client.post(
        f"{V}/os-aggregates/{agg['id']}/action", {"add_host": {"host": "itest-b"}}, format="json"
    )
    assert added.status_code == 200, added.content
    assert ComputeNode.objects.get(host="itest-b").availability_zone == "az1"

    # itest-b keeps the zone through its heartbeats, and takes every boot into it.
    ids = [boot(admin_client, f"az-{i}", availability_zone="az1") for i in range(3)]
    assert {host_of(admin_client, i) for i in ids} == {"itest-b"}
    shown = admin_client.get(f"{V}/servers/{ids[0]}").json()["server"]
    assert shown["OS-EXT-AZ:availability_zone"] == "az1"
    assert ComputeNode.objects.get(host="itest-b").availability_zone == "az1"

    # 1024 MB are left on itest-b; itest-a has room for m1.small but is not in az1.
    small = boot(admin_client, "no-room", flavorRef="2", availability_zone="az1")
    server = wait_status(admin_client, small, {"ERROR"})
    assert server["fault"]["message"].endswith(
        "0 of 2 hosts could take 2048 MB RAM, 1 VCPU, 20 GB disk: "
        "1 lacked RAM for 2048 MB, 1 were not in zone az1."
    )
    delete_all(admin_client, [*ids, small])


def test_an_admin_forces_a_host(admin_client, member_client):
    ids = [boot(admin_client, f"forced-{i}", availability_zone="nova:itest-a") for i in range(2)]
    ids.append(boot(admin_client, "any-zone", availability_zone=":itest-a"))
    assert {host_of(admin_client, i) for i in ids} == {"itest-a"}
    refused = member_client.post(
        f"{V}/servers",
        {
            "server": {
                "name": "mine",
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "networks": "none",
                "availability_zone": "nova:itest-a",
            }
        },
        format="json",
    )
    assert refused.status_code == 403
    delete_all(admin_client, ids)


def test_same_host_and_different_host(admin_client):
    first = boot(admin_client, "first")
    first_host = host_of(admin_client, first)
    second = boot(admin_client, "second")
    second_host = host_of(admin_client, second)
    assert {first_host, second_host} == set(HOSTS)  # the RAM weigher spreads them

    near = boot(admin_client, "near", {"same_host": first})
    assert host_of(admin_client, near) == first_host
    # first_host is now the fuller one: only the hint sends the next boot there.
    away = boot(admin_client, "away", {"different_host": [second]})
    assert host_of(admin_client, away) == first_host
    delete_all(admin_client, [first, second, near, away])


def test_query_hint(admin_client):
    first = boot(admin_client, "first")
    first_host = host_of(admin_client, first)
    # first_host is the fuller one: only the query sends the next boot there.
    near = boot(admin_client, "near", {"query": json.dumps(["=", "$host", first_host])})
    assert host_of(admin_client, near) == first_host
    nowhere = boot(admin_client, "nowhere", {"query": '[">", "$vcpus_total", 1000]'})
    server = wait_status(admin_client, nowhere, {"ERROR"}, timeout=60)
    assert server["fault"]["message"].endswith(
        '2 did not match the query hint [">", "$vcpus_total", 1000].'
    )
    delete_all(admin_client, [first, near, nowhere])


def test_a_disabled_host_is_never_picked(admin_client):
    node = ComputeNode.objects.get(host="itest-a")
    url = f"{V}/os-services/{node.uuid}"
    disabled = admin_client.put(
        url, {"status": "disabled", "disabled_reason": "test"}, format="json", **LATEST
    )
    assert disabled.status_code == 200, disabled.content
    try:
        ids = [boot(admin_client, f"d-{i}") for i in range(3)]
        assert {host_of(admin_client, i) for i in ids} == {"itest-b"}
        delete_all(admin_client, ids)
    finally:
        admin_client.put(url, {"status": "enabled"}, format="json", **LATEST)


SIMULATED = [f"itest-sim-{i}" for i in range(8)]


def _simulated_hosts() -> None:
    """Eight more hosts as database rows, each with the room of a real one. No compute
    process serves their queues: servers placed there never finish building."""
    real = ComputeNode.objects.get(host="itest-a")
    # Fresh for the whole test, since no heartbeat keeps them up.
    seen = timezone.now() + timedelta(minutes=5)
    for host in SIMULATED:
        ComputeNode.objects.create(
            host=host,
            hypervisor_type=real.hypervisor_type,
            cpu_info=real.cpu_info,
            vcpus=HOST_CPUS,
            memory_mb=real.memory_mb,
            last_seen_at=seen,
        )
        provider_sync(
            name=host,
            inventories={
                "VCPU": InventorySpec(total=HOST_CPUS, allocation_ratio=4.0),
                "MEMORY_MB": InventorySpec(total=HOSTS["itest-a"]),
                "DISK_GB": InventorySpec(total=HOST_DISK_GB),
            },
        )


def _placed(ids: list[str]) -> list[str] | None:
    """The member hosts the scheduler claimed, once each server has one and its instance
    row points there too."""
    members = dict(
        ServerGroupMember.objects.filter(instance_uuid__in=ids, host__isnull=False).values_list(
            "instance_uuid", "host"
        )
    )
    instances = dict(
        Instance.objects.filter(uuid__in=ids, host__isnull=False).values_list("uuid", "host")
    )
    if len(members) < len(ids) or members != instances:
        return None
    return list(members.values())


def _anti_affinity_round(client: APIClient, round_number: int) -> None:
    group_id = group(client, "anti-affinity")
    ids = boot_in_parallel(10, {"group": group_id})
    placed = wait_for(lambda: _placed(ids), 60, message=f"10 placements, round {round_number}")
    assert sorted(placed) == sorted([*HOSTS, *SIMULATED]), Counter(placed)
    # Simulated hosts never answer: take them down so that their servers are deleted here.
    ComputeNode.objects.filter(host__in=SIMULATED).update(forced_down=True)
    delete_all(client, ids)
    ComputeNode.objects.filter(host__in=SIMULATED).update(forced_down=False)
    assert client.delete(f"{V}/os-server-groups/{group_id}").status_code == 204


def test_ten_parallel_boots_into_anti_affinity_land_on_ten_hosts(admin_client):
    _simulated_hosts()
    try:
        for round_number in range(3):
            _anti_affinity_round(admin_client, round_number)
    finally:
        # Their build requests wait in queues no worker reads: drop them.
        broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
        broker.delete(*(f"compute.{host}" for host in SIMULATED))
