"""Quota enforcement under concurrent server creates, with real workers building what
was admitted (moved from tests/api/test_quotas.py: it needs committed rows and workers)."""

import threading

from django.db import connection
from rest_framework.test import APIClient

from cloud.identity.models import Project
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance
from tests.helpers import token_for, wait_gone, wait_status

V = "compute/v2.1"
CURRENT = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def boot(client: APIClient, name: str):
    body = {
        "server": {"name": name, "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}
    }
    return client.post(f"/{V}/servers", body, format="json", **CURRENT)


def test_parallel_creates_never_exceed_the_quota(cloud, admin_client):
    """50 creates at once, each its own request and database connection (so its own
    PostgreSQL transaction), against an instance quota of 10: exactly 10 servers."""
    pid = Project.objects.get(name="admin").id
    response = admin_client.put(
        f"/{V}/os-quota-sets/{pid}", {"quota_set": {"instances": 10}}, format="json"
    )
    assert response.status_code == 200
    token = token_for("admin", "admin")
    barrier = threading.Barrier(50)
    results: list[tuple[int, dict]] = []

    def create(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=token)
        barrier.wait()
        try:
            reply = boot(client, f"race-{index}")
            results.append((reply.status_code, reply.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(code for code, _ in results)
    assert codes == [202] * 10 + [403] * 40, codes
    messages = {body["forbidden"]["message"] for code, body in results if code == 403}
    assert messages == {
        "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"
    }
    live = Instance.objects.filter(project_id=pid, deleted=False)
    assert live.count() == 10
    assert boot(admin_client, "over").status_code == 403
    for instance in live:
        wait_status(admin_client, str(instance.uuid), {"ACTIVE", "ERROR"}, timeout=60)
        assert admin_client.delete(f"/{V}/servers/{instance.uuid}").status_code == 204
    for instance in live:
        wait_gone(admin_client, str(instance.uuid))


def test_unlimited_creates_and_a_limit_set_meanwhile_never_pass_it(cloud, admin_client):
    """With no limit, creates take the project's row in share (they do not wait on one
    another); an instance limit set while 20 of them run either finds the servers
    already there (400: below usage) or is never passed by those after it."""
    pid = Project.objects.get(name="admin").id
    unlimited = {"instances": -1, "cores": -1, "ram": -1}
    response = admin_client.put(
        f"/{V}/os-quota-sets/{pid}", {"quota_set": unlimited}, format="json"
    )
    assert response.status_code == 200
    token = token_for("admin", "admin")
    barrier = threading.Barrier(21)
    codes: list[int] = []
    limit_set: list[int] = []

    def client() -> APIClient:
        made = APIClient()
        made.credentials(HTTP_X_AUTH_TOKEN=token)
        return made

    def create(index: int) -> None:
        made = client()
        barrier.wait()
        try:
            codes.append(boot(made, f"share-{index}").status_code)
        finally:
            connection.close()

    def set_limit() -> None:
        made = client()
        barrier.wait()
        try:
            body = {"quota_set": {"instances": 5}}
            limit_set.append(made.put(f"/{V}/os-quota-sets/{pid}", body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    threads.append(threading.Thread(target=set_limit))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(codes) <= {202, 403}, codes
    live = Instance.objects.filter(project_id=pid, deleted=False)
    if limit_set == [200]:
        assert live.count() <= 5
    else:
        assert limit_set == [400]
    assert live.count() == codes.count(202)
    for instance in live:
        wait_status(admin_client, str(instance.uuid), {"ACTIVE", "ERROR"}, timeout=60)
        assert admin_client.delete(f"/{V}/servers/{instance.uuid}").status_code == 204
    for instance in live:
        wait_gone(admin_client, str(instance.uuid))
