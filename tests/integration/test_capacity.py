"""Claims under contention: two scheduler processes, twenty boots, room for ten."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from django.db.models import Sum

from cloud.identity.models import Project, Quota
from cloud.instances.models import Instance, InstanceFault
from cloud.placement.models import Allocation, Inventory
from tests.helpers import create_server
from tests.integration.conftest import HOSTS, wait_for


def _boot(client, index: int) -> str:
    try:
        return create_server(client, f"storm-{index}")["id"]
    finally:
        connection.close()


def test_twenty_concurrent_boots_on_room_for_ten(admin_client):
    project = Project.objects.get(name="admin")
    Quota.objects.create(project=project, resource="instances", hard_limit=-1)
    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(lambda i: _boot(admin_client, i), range(20)))
    assert len(set(ids)) == 20

    def settled():
        states = list(Instance.objects.filter(uuid__in=ids).values_list("vm_state", flat=True))
        return states if all(s in ("active", "error") for s in states) else None

    states = wait_for(settled, 60, message="all 20 builds settled")
    assert states.count("active") == 10
    assert states.count("error") == 10

    errored = Instance.objects.filter(uuid__in=ids, vm_state="error")
    for instance in errored:
        fault = InstanceFault.objects.get(instance_uuid=instance.uuid)
        assert fault.message.startswith("No valid host was found.")
        assert "lacked RAM for 512 MB" in fault.message
        assert not Allocation.objects.filter(consumer_id=str(instance.uuid)).exists()

    for host in HOSTS:
        for inventory in Inventory.objects.filter(provider__name=host):
            used = (
                Allocation.objects.filter(
                    provider=inventory.provider, resource_class=inventory.resource_class
                ).aggregate(total=Sum("used"))["total"]
                or 0
            )
            assert used <= inventory.capacity, (host, inventory.resource_class, used)
            assert used == inventory.used, (host, inventory.resource_class, inventory.used)
        active_here = Instance.objects.filter(uuid__in=ids, vm_state="active", host=host)
        assert active_here.count() == 5


def test_error_servers_show_the_reason(admin_client):
    big = create_server(admin_client, "too-big", flavor="5")  # 16 GB on 2.5 GB hosts
    server = wait_for(
        lambda: (
            (s := admin_client.get(f"/compute/v2.1/servers/{big['id']}").json()["server"])["status"]
            == "ERROR"
            and s
        ),
        30,
        message="ERROR",
    )
    assert server["fault"]["code"] == 500
    assert "0 of 2 hosts" in server["fault"]["message"]
    assert "2 lacked RAM for 16384 MB" in server["fault"]["message"]
