"""Reschedules with real workers: a build that libvirt refuses on one host is rebuilt on
the other; one refused everywhere ends in ERROR; disabled and down hosts are never
picked.

How a build is made to fail, honestly: libvirt refuses to define a guest whose name
another guest on that hypervisor already has. A guest left over from an earlier life of
the host, carrying the name the next instance will get (Nova's `instance-%08x` of its
id), is planted through that host's own queue, as any build is; the test driver then
rejects the real build there and nowhere else.
"""

import uuid

import pytest
from django.db import connection
from django.db.models import Sum

from cloud.celery import app
from cloud.conductor.services import BUILD_EVENT, SCHEDULE_EVENT
from cloud.hosts.models import ComputeNode
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, InstanceAction, InstanceFault, RequestSpec
from cloud.messaging import compute_queue
from cloud.payloads import BuildRequest, InstanceSpec, TerminateRequest
from cloud.placement.models import Allocation, Inventory
from cloud.rpc import call_compute
from tests.helpers import create_server, wait_status
from tests.integration.conftest import HOSTS, wait_for

NEED = "512 MB RAM, 1 VCPU, 1 GB disk"


def next_domain_name() -> str:
    """The hypervisor name of the next instance created: takes the id before it from the
    sequence, so the next insert gets the one after (only this test inserts instances)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Instance._meta.db_table]
        )
        (taken,) = cursor.fetchone()
    return f"instance-{taken + 1:08x}"


def guests(host: str) -> list[str]:
    return call_compute(host, "compute.list_instances", timeout=10)


class LeftoverGuests:
    """Guests planted on compute hosts, removed again (by their own uuid) after the test."""

    def __init__(self) -> None:
        self.planted: list[tuple[str, str, str]] = []

    def plant(self, host: str, name: str) -> None:
        spec = InstanceSpec(
            uuid=str(uuid.uuid4()),
            name=name,
            display_name="leftover",
            hostname="leftover",
            project_id="gone",
            user_id="gone",
            flavor={"name": "m1.tiny", "memory_mb": 64, "vcpus": 1, "root_gb": 1},
            image={"id": TINY_IMAGE_ID, "name": "tiny"},
        )
        request = BuildRequest(instance=spec.to_dict(), request_id="req-leftover")
        app.send_task(
            "compute.build_and_run_instance", args=[request.to_dict()], queue=compute_queue(host)
        )
        self.planted.append((host, spec.uuid, name))
        wait_for(lambda: spec.uuid in guests(host), 20, message=f"leftover {name} on {host}")

    def remove(self) -> None:
        for host, guest_uuid, name in self.planted:
            request = TerminateRequest(instance_uuid=guest_uuid, name=name, request_id="req-x")
            app.send_task(
                "compute.terminate_instance", args=[request.to_dict()], queue=compute_queue(host)
            )
        for host, guest_uuid, name in self.planted:
            wait_for(
                lambda host=host, guest_uuid=guest_uuid: guest_uuid not in guests(host),
                20,
                message=f"leftover {name} removed from {host}",
            )


@pytest.fixture
def leftovers(cloud):
    planted = LeftoverGuests()
    yield planted
    planted.remove()


def failed_builds() -> dict[str, int]:
    return dict(ComputeNode.objects.values_list("host", "failed_builds"))


def events(server_id: str) -> list[tuple]:
    action = InstanceAction.objects.get(instance_uuid=server_id, action="create")
    return list(action.events.values_list("event", "host", "result", "details"))


def assert_claims_match_usage() -> None:
    for inventory in Inventory.objects.filter(provider__name__in=HOSTS):
        allocated = Allocation.objects.filter(
            provider=inventory.provider, resource_class=inventory.resource_class
        ).aggregate(total=Sum("used"))["total"]
        assert inventory.used == (allocated or 0)


def boot(client, name: str, statuses: set[str] | None = None) -> Instance:
    server = create_server(client, name)
    wait_status(client, server["id"], statuses or {"ACTIVE"}, timeout=60)
    return Instance.objects.get(uuid=server["id"])


def service_update(client, host: str, body: dict) -> None:
    service = ComputeNode.objects.get(host=host).uuid
    reply = client.put(f"/compute/v2.1/os-services/{service}", body, format="json")
    assert reply.status_code == 200, reply.content


def test_a_build_refused_on_one_host_is_rebuilt_on_the_other(admin_client, leftovers):
    # A first server makes the other host the emptier one: the next build goes there.
    filler = boot(admin_client, "filler")
    good, bad = filler.host, next(h for h in HOSTS if h != filler.host)
    name = next_domain_name()
    leftovers.plant(bad, name)

    server = create_server(admin_client, "phoenix")
    wait_status(admin_client, server["id"], {"ACTIVE", "ERROR"}, timeout=60)
    instance = Instance.objects.get(uuid=server["id"])
    assert instance.domain_name == name
    assert (instance.vm_state, instance.task_state, instance.host) == ("active", None, good)
    assert uuid.UUID(server["id"]) in {uuid.UUID(g) for g in guests(good)}

    # The refused host's claim was given back; the instance holds one, on the good host.
    held = Allocation.objects.filter(consumer_id=server["id"])
    assert set(held.values_list("provider__name", flat=True)) == {good}
    assert not Allocation.objects.filter(provider__name=bad).exists()
    assert set(Inventory.objects.filter(provider__name=bad).values_list("used", flat=True)) == {0}
    assert_claims_match_usage()

    # Both attempts are on record: the refusal on the bad host, the build on the alternate.
    trail = events(server["id"])
    assert [(e, h, r) for e, h, r, _ in trail] == [
        (SCHEDULE_EVENT, bad, "Success"),
        (BUILD_EVENT, bad, "Error"),
        (SCHEDULE_EVENT, good, "Success"),
        (BUILD_EVENT, good, "Success"),
    ]
    assert trail[0][3] == f"attempt 1 on {bad}"
    assert name in trail[1][3] and "already exists" in trail[1][3]
    assert trail[2][3] == f"attempt 2 on {good} (alternate)"
    spec = RequestSpec.objects.get(instance_uuid=server["id"])
    assert (spec.ignore_hosts, spec.num_attempts) == ([bad], 2)
    assert not InstanceFault.objects.filter(instance_uuid=server["id"]).exists()

    # The failure counts against the bad host only, and a success elsewhere keeps it.
    assert failed_builds() == {bad: 1, good: 0}
    # So the next build avoids it, though it has the most room...
    assert boot(admin_client, "steady").host == good
    assert failed_builds() == {bad: 1, good: 0}
    # ...until a build succeeds there (the good host disabled): that resets its count.
    service_update(admin_client, good, {"status": "disabled", "disabled_reason": "drain"})
    assert boot(admin_client, "back").host == bad
    assert failed_builds() == {bad: 0, good: 0}


def test_a_build_refused_everywhere_ends_in_error_naming_the_attempts(admin_client, leftovers):
    name = next_domain_name()
    for host in HOSTS:
        leftovers.plant(host, name)

    server = create_server(admin_client, "doomed")
    shown = wait_status(admin_client, server["id"], {"ERROR"}, timeout=60)
    instance = Instance.objects.get(uuid=server["id"])
    trail = events(server["id"])
    first, last = trail[1][1], trail[3][1]
    assert {first, last} == set(HOSTS)
    assert [(e, r) for e, _, r, _ in trail] == [
        (SCHEDULE_EVENT, "Success"),
        (BUILD_EVENT, "Error"),
        (SCHEDULE_EVENT, "Success"),
        (BUILD_EVENT, "Error"),
    ]

    fault = InstanceFault.objects.get(instance_uuid=server["id"])
    assert fault.message.startswith(
        f"Build of instance {server['id']} failed on 2 host(s); last error on {last}: "
        f"libvirt could not start {name}: "
    )
    assert shown["fault"]["message"] == fault.message and shown["fault"]["code"] == 500
    assert "HypervisorError" in fault.details
    assert (instance.vm_state, instance.task_state, instance.host) == ("error", None, last)
    assert not Allocation.objects.filter(consumer_id=server["id"]).exists()
    assert_claims_match_usage()
    assert failed_builds() == dict.fromkeys(HOSTS, 1)
    action = InstanceAction.objects.get(instance_uuid=server["id"], action="create")
    assert action.finish_time is not None and action.message == "Error"


def test_disabled_and_down_hosts_are_never_picked(admin_client):
    off, on = HOSTS
    service_update(admin_client, off, {"status": "disabled", "disabled_reason": "maintenance"})
    # Two builds: the second would go to the disabled host, the emptier one by then.
    assert [boot(admin_client, f"on-{i}").host for i in range(2)] == [on, on]

    service_update(admin_client, on, {"forced_down": True})
    fenced = boot(admin_client, "fenced", {"ERROR"})
    fault = InstanceFault.objects.get(instance_uuid=fenced.uuid)
    assert (
        fault.message
        == f"No valid host was found. 0 of 2 hosts could take {NEED}: 1 down, 1 disabled."
    )

    service_update(admin_client, on, {"forced_down": False, "status": "disabled"})
    both_off = boot(admin_client, "both-off", {"ERROR"})
    fault = InstanceFault.objects.get(instance_uuid=both_off.uuid)
    assert fault.message == f"No valid host was found. 0 of 2 hosts could take {NEED}: 2 disabled."
    failed = [str(fenced.uuid), str(both_off.uuid)]
    assert not Allocation.objects.filter(consumer_id__in=failed).exists()
    assert fenced.host is None and both_off.host is None
