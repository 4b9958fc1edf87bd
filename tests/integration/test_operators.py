"""What operators see of a boot and a delete on real workers: the versioned
notifications consumed from the real broker, one request id in the API's answer,
the instance actions, every task and the workers' log lines, and /metrics parsed
with the Prometheus client's own parser."""

import dataclasses
import json
import socket
import sys
import urllib.request
import uuid

import pytest
from django.conf import settings
from kombu import Exchange, Queue
from prometheus_client.parser import text_string_to_metric_families

from cloud.celery import app
from cloud.instances.models import InstanceAction, InstanceFault
from cloud.notifications import (
    NAMESPACE,
    ExceptionPayload,
    FlavorPayload,
    InstanceActionPayload,
    fingerprint,
)
from tests.conftest import free_port
from tests.helpers import TINY_IMAGE_ID, create_server, wait_gone, wait_status
from tests.integration.conftest import HOSTS, _host_xml, heartbeats_handled, wait_for
from tests.integration.test_reschedule import leftovers, next_domain_name  # noqa: F401
from tests.unit.test_notifications import EXPECTED


@pytest.fixture
def notifications():
    """The operators' queue `notifications.info` (and `.error`), emptied, read as a
    consumer would: a list of the envelopes received so far."""
    exchange = Exchange(settings.NOTIFICATIONS_EXCHANGE, type="topic", durable=True)
    conn = app.connection_for_read()
    channel = conn.channel()
    queues = [
        Queue(f"notifications.{p}", exchange, routing_key=f"notifications.{p}", durable=True)(
            channel
        )
        for p in ("info", "error")
    ]
    for queue in queues:
        queue.declare()
        queue.purge()
    received: list[dict] = []
    queue_of: dict[str, str] = {}  # message_id -> the queue it was read from

    def drain() -> list[dict]:
        for queue in queues:
            while (message := queue.get(no_ack=True)) is not None:
                body = message.decode()
                received.append(body)
                queue_of[body["message_id"]] = queue.name
        return received

    drain.queue_of = queue_of
    yield drain
    conn.release()


def _events(received: list[dict], server_id: str) -> list[str]:
    return [
        n["event_type"]
        for n in received
        if n["payload"][f"{NAMESPACE}_object.data"].get("uuid") == server_id
    ]


def _create_told(admin_client, name: str) -> tuple[str, str]:
    """A server created under a request id of the client's own: (that id, the server's)."""
    request_id = f"req-{uuid.uuid4()}"
    response = admin_client.post(
        "/compute/v2.1/servers",
        {"server": {"name": name, "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}},
        format="json",
        HTTP_X_OPENSTACK_REQUEST_ID=request_id,
    )
    assert response.status_code == 202, response.content
    assert response["X-OpenStack-Request-ID"] == request_id
    return request_id, response.json()["server"]["id"]


def test_boot_and_delete_are_told_with_one_request_id(admin_client, notifications, workers):
    request_id, server_id = _create_told(admin_client, "told-1")
    server = wait_status(admin_client, server_id, {"ACTIVE", "ERROR"}, timeout=60)
    assert server["status"] == "ACTIVE", server.get("fault")

    wait_for(
        lambda: "instance.create.end" in _events(notifications(), server_id),
        timeout=30,
        message="instance.create.end on the broker",
    )
    create = [
        n
        for n in notifications()
        if n["event_type"].startswith("instance.create.")
        and n["payload"][f"{NAMESPACE}_object.data"]["uuid"] == server_id
    ]
    assert [n["event_type"] for n in create] == ["instance.create.start", "instance.create.end"]
    end = create[-1]
    assert end["priority"] == "INFO"
    assert end["request_id"] == request_id
    assert end["publisher_id"].startswith("stratus")
    assert set(end) == {
        "priority",
        "event_type",
        "publisher_id",
        "timestamp",
        "message_id",
        "request_id",
        "payload",
    }
    payload = end["payload"]
    assert payload[f"{NAMESPACE}_object.name"] == "InstanceActionPayload"
    assert payload[f"{NAMESPACE}_object.version"] == "1.0"
    data = payload[f"{NAMESPACE}_object.data"]
    assert data["state"] == "active" and data["host"] in HOSTS
    assert data["flavor"]["memory_mb"] == 512
    updates = [
        n
        for n in notifications()
        if n["event_type"] == "instance.update"
        and n["payload"][f"{NAMESPACE}_object.data"]["uuid"] == server_id
    ]
    assert updates and {n["request_id"] for n in updates} == {request_id}
    assert updates[-1]["payload"][f"{NAMESPACE}_object.data"]["state_update"]["state"] == "active"

    # The request id is the create action's, and every worker of the path logged it.
    assert InstanceAction.objects.get(instance_uuid=server_id, action="create").request_id == (
        request_id
    )
    logs = {
        name: (workers.logdir / f"{name}.log").read_text(errors="replace") for name in workers.procs
    }
    host = server["OS-EXT-SRV-ATTR:host"]
    for name in ("conductor", host):
        assert request_id in logs[name], f"{name} did not log {request_id}"
    assert any(request_id in text for name, text in logs.items() if name.startswith("scheduler"))

    delete_id = f"req-{uuid.uuid4()}"
    response = admin_client.delete(
        f"/compute/v2.1/servers/{server_id}", HTTP_X_OPENSTACK_REQUEST_ID=delete_id
    )
    assert response.status_code == 204
    wait_gone(admin_client, server_id, timeout=60)
    wait_for(
        lambda: "instance.delete.end" in _events(notifications(), server_id),
        timeout=30,
        message="instance.delete.end on the broker",
    )
    deletes = [
        n
        for n in notifications()
        if n["event_type"].startswith("instance.delete.")
        and n["payload"][f"{NAMESPACE}_object.data"]["uuid"] == server_id
    ]
    assert [n["event_type"] for n in deletes] == ["instance.delete.start", "instance.delete.end"]
    assert {n["request_id"] for n in deletes} == {delete_id}
    assert deletes[-1]["payload"][f"{NAMESPACE}_object.data"]["state"] == "deleted"


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _schema(payload: dict, cls: type) -> dict:
    """The payload's data, after checking it is `cls` at the version and with the fields
    whose fingerprint tests/unit/test_notifications.py pins."""
    assert payload[f"{NAMESPACE}_object.name"] == cls.__name__
    assert payload[f"{NAMESPACE}_object.namespace"] == NAMESPACE
    assert payload[f"{NAMESPACE}_object.version"] == cls.VERSION
    assert fingerprint(cls) == EXPECTED[cls.__name__]
    data = payload[f"{NAMESPACE}_object.data"]
    assert set(data) == _names(cls), cls.__name__
    return data


def test_a_build_that_fails_on_every_host_is_told_as_errors(
    admin_client,
    notifications,
    leftovers,  # noqa: F811 - the fixture imported above
):
    """A real failure through the real workers (libvirt refuses a guest whose name a
    guest on that host already has, on both hosts): each host's refusal is a
    compute.exception from that host, and the build's end an instance.create.error
    carrying the fault the API shows, both on `notifications.error`."""
    name = next_domain_name()
    for host in HOSTS:
        leftovers.plant(host, name)
    request_id, server_id = _create_told(admin_client, "told-doomed")
    shown = wait_status(admin_client, server_id, {"ACTIVE", "ERROR"}, timeout=60)
    assert shown["status"] == "ERROR"
    wait_for(
        lambda: "instance.create.error" in _events(notifications(), server_id),
        timeout=30,
        message="instance.create.error on the broker",
    )
    received = notifications()
    assert [e for e in _events(received, server_id) if e.startswith("instance.create.")] == [
        "instance.create.start",
        "instance.create.error",
    ]

    # One compute.exception from each host that refused, with libvirt's reason.
    wait_for(
        lambda: (
            len(
                [
                    n
                    for n in notifications()
                    if n["event_type"] == "compute.exception" and n["request_id"] == request_id
                ]
            )
            == len(HOSTS)
        ),
        timeout=30,
        message="a compute.exception from each host",
    )
    exceptions = [
        n
        for n in notifications()
        if n["event_type"] == "compute.exception" and n["request_id"] == request_id
    ]
    assert {n["publisher_id"] for n in exceptions} == {f"stratus-compute:{h}" for h in HOSTS}
    for told in exceptions:
        assert told["priority"] == "ERROR"
        assert notifications.queue_of[told["message_id"]] == "notifications.error"
        data = _schema(told["payload"], ExceptionPayload)
        assert data["module_name"].startswith("stratus.compute")
        assert data["function_name"] == "compute_build_and_run_instance"
        assert name in data["exception_message"] and "already exists" in data["exception_message"]

    # The build's end: the instance in error, with the fault the API shows.
    (error,) = [
        n
        for n in notifications()
        if n["event_type"] == "instance.create.error"
        and n["payload"][f"{NAMESPACE}_object.data"]["uuid"] == server_id
    ]
    assert error["priority"] == "ERROR" and error["request_id"] == request_id
    assert notifications.queue_of[error["message_id"]] == "notifications.error"
    data = _schema(error["payload"], InstanceActionPayload)
    assert data["state"] == "error" and data["request_id"] == request_id
    assert set(data["flavor"]) == _names(FlavorPayload)
    fault = InstanceFault.objects.get(instance_uuid=server_id)
    assert set(data["fault"]) == _names(ExceptionPayload)
    assert data["fault"]["exception_message"] == fault.message == shown["fault"]["message"]
    assert data["fault"]["exception"] == "Fault500"
    assert "HypervisorError" in data["fault"]["traceback"]


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(family, **labels) -> float | None:
    for sample in family.samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


def test_metrics_are_scrapable_and_agree_with_the_api(admin_client, member_client, workers):
    created = create_server(admin_client, "metered-1")
    wait_status(admin_client, created["id"], {"ACTIVE"}, timeout=60)

    assert member_client.get("/metrics").status_code == 403
    response = admin_client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    families = _families(response.content.decode())

    # Requests by route (the URL pattern, not the path) and status.
    requests = families["stratus_http_requests"]
    assert _value(requests, route="compute/v2.1/servers", method="POST", status="202") >= 1
    assert not any(created["id"] in s.labels["route"] for s in requests.samples)
    assert "stratus_http_request_duration_seconds" in families

    assert _value(families["stratus_instances"], vm_state="active") >= 1
    hypervisors = admin_client.get("/compute/v2.1/os-hypervisors/detail").json()["hypervisors"]
    for hypervisor in hypervisors:
        host = hypervisor["hypervisor_hostname"]
        if host not in HOSTS:
            continue
        assert _value(families["stratus_host_up"], host=host) == 1
        provider = admin_client.get(
            f"/placement/resource_providers?name={host}",
            HTTP_OPENSTACK_API_VERSION="placement 1.20",
        ).json()["resource_providers"][0]
        usages = admin_client.get(
            f"/placement/resource_providers/{provider['uuid']}/usages",
            HTTP_OPENSTACK_API_VERSION="placement 1.20",
        ).json()["usages"]
        assert (
            _value(families["stratus_host_used"], host=host, resource_class="MEMORY_MB")
            == (usages["MEMORY_MB"])
        )
        inventories = admin_client.get(
            f"/placement/resource_providers/{provider['uuid']}/inventories",
            HTTP_OPENSTACK_API_VERSION="placement 1.20",
        ).json()["inventories"]
        for rc, inventory in inventories.items():
            capacity = int(
                (inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"]
            )
            assert _value(families["stratus_host_capacity"], host=host, resource_class=rc) == (
                capacity
            )
    queues = {s.labels["queue"] for s in families["stratus_queue_depth"].samples}
    assert {"conductor", "scheduler"} <= queues
    assert {f"compute.{h}" for h in HOSTS} <= queues

    # A worker serves its own tasks' metrics on METRICS_PORT: a second conductor with
    # one takes its share of the heartbeats.
    port = free_port()
    workers.start_conductor("conductor-metered", METRICS_PORT=str(port))
    try:

        def heartbeats() -> float | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                return None
            tasks = _families(text).get("stratus_celery_tasks")
            return tasks and _value(tasks, task="conductor.compute_heartbeat", outcome="success")

        wait_for(lambda: (heartbeats() or 0) >= 1, timeout=60, message="worker metrics")
    finally:
        workers.stop_one("conductor-metered")


def _flower_worker(listing: str, name: str) -> bool | None:
    """Whether Flower's worker list (`/workers?json=1`) has `name` online (None: absent)."""
    for worker in json.loads(listing or '{"data": []}')["data"]:
        if worker.get("hostname") == name:
            return bool(worker.get("status"))
    return None


def test_flower_shows_every_queue_and_the_hosts_workers(cloud, workers):
    """Flower, started as deploy/stack.py and the systemd unit start it
    (cloud.operators.flower), lists the per-host queues (`compute.<host>`) with their
    depths, and workers named after their host; a host that joins after Flower started
    is listed too, and stays listed, queue and all, once it is down."""
    port = free_port()
    workers.spawn(
        "flower",
        [
            sys.executable,
            "-m",
            "cloud.operators.flower",
            "--address=127.0.0.1",
            f"--port={port}",
        ],
        workers._env(FLOWER_INSPECT_INTERVAL="1"),
    )
    late = "itest-late"
    try:

        def page(path: str) -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.read().decode()
            except OSError:
                return ""

        wait_for(
            lambda: all(f"compute.{host}" in page("/broker") for host in HOSTS),
            timeout=60,
            interval=1,
            message="Flower lists the per-host queues",
        )
        broker = page("/broker")
        assert "conductor.heartbeat" in broker and "scheduler" in broker
        assert ">network<" in broker
        # Each host's worker is named after it, and its page shows the queue it serves.
        for host in HOSTS:
            name = f"{host}@{socket.gethostname()}"
            wait_for(
                lambda name=name: name in page("/workers?json=1"),
                timeout=30,
                interval=1,
                message=f"Flower knows {name}",
            )
            wait_for(
                lambda name=name, host=host: f"compute.{host}" in page(f"/worker/{name}"),
                timeout=30,
                interval=1,
                message=f"Flower's page of {name}",
            )

        # A host that joins later is listed, and still is once it is down.
        workers.start_compute(late, _host_xml(workers.logdir, late, 2048))
        wait_for(
            lambda: f"compute.{late}" in page("/broker"),
            timeout=60,
            interval=1,
            message="Flower lists the queue of a host that joined after it started",
        )
        workers.stop_one(late)
        wait_for(
            lambda: (
                _flower_worker(page("/workers?json=1"), f"{late}@{socket.gethostname()}") is False
            ),
            timeout=60,
            interval=1,
            message="Flower sees the late host go",
        )
        assert f"compute.{late}" in page("/broker")
    finally:
        workers.stop_one("flower")
        if late in workers.procs:
            workers.stop_one(late)
        # Its last heartbeats handled now, none can bring its row back after this test.
        heartbeats_handled()


def _act(client, server_id: str, body: dict):
    return client.post(f"/compute/v2.1/servers/{server_id}/action", body, format="json")


def _named(received: list[dict], server_id: str, prefix: str) -> list[str]:
    return [e for e in _events(received, server_id) if e.startswith(prefix)]


def test_a_resize_and_its_confirm_are_told_step_by_step(admin_client, notifications):
    server = create_server(admin_client, "grows")
    server_id = server["id"]
    wait_status(admin_client, server_id, {"ACTIVE"}, timeout=60)
    assert _act(admin_client, server_id, {"resize": {"flavorRef": "2"}}).status_code == 202
    wait_status(admin_client, server_id, {"VERIFY_RESIZE"}, timeout=60)
    wait_for(
        lambda: "instance.resize_finish.end" in _events(notifications(), server_id),
        timeout=30,
        message="instance.resize_finish.end",
    )
    assert _named(notifications(), server_id, "instance.resize") == [
        "instance.resize_prep.start",
        "instance.resize_prep.end",
        "instance.resize.start",
        "instance.resize.end",
        "instance.resize_finish.start",
        "instance.resize_finish.end",
    ]
    assert _act(admin_client, server_id, {"confirmResize": None}).status_code == 204
    wait_for(
        lambda: "instance.resize_confirm.end" in _events(notifications(), server_id),
        timeout=30,
        message="instance.resize_confirm.end",
    )
    assert _named(notifications(), server_id, "instance.resize_confirm") == [
        "instance.resize_confirm.start",
        "instance.resize_confirm.end",
    ]
    (finished,) = [
        n
        for n in notifications()
        if n["event_type"] == "instance.resize_finish.end"
        and n["payload"][f"{NAMESPACE}_object.data"]["uuid"] == server_id
    ]
    assert finished["payload"][f"{NAMESPACE}_object.data"]["flavor"]["memory_mb"] == 2048


@pytest.mark.django_db(transaction=True)
def test_one_commits_notifications_go_out_together_in_order_and_a_rollback_says_nothing(
    notifications,
):
    from django.db import transaction

    from cloud.rpc import committed, notify

    reads: list[str] = []

    def told(name: str):
        def build() -> FlavorPayload:
            committed("row", lambda: reads.append(name))  # one read for the whole batch
            return FlavorPayload(flavorid=name, name=name, vcpus=1, memory_mb=1, root_gb=1)

        notify(f"test.{name}", build)

    with transaction.atomic():
        told("first")
        told("second")  # the same batch: the row is read once for both
        try:
            with transaction.atomic():
                told("undone")
                raise RuntimeError("roll this savepoint back")
        except RuntimeError:
            pass
        told("third")  # after a savepoint: a batch of its own, so the order holds
        with transaction.atomic():
            told("fourth")
        callbacks = transaction.get_connection().run_on_commit
        assert len({id(callback) for _, callback, _ in callbacks}) == 3
    with transaction.atomic():
        told("rolled back")
        transaction.set_rollback(True)
    told("alone")  # no transaction: at once

    def ours() -> list[str] | None:
        names = [n["event_type"] for n in notifications() if n["event_type"].startswith("test.")]
        return names if len(names) >= 5 else None

    assert wait_for(ours, timeout=10) == [
        "test.first",
        "test.second",
        "test.third",
        "test.fourth",
        "test.alone",
    ]
    assert reads == ["first", "third", "fourth", "alone"]
