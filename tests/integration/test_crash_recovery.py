"""Crash tests on real workers: a compute worker killed (kill -9) with a build or a reboot
in hand, started again; the server ends ACTIVE or ERROR with a fault, never stuck, and no
claim leaks. A host silent for SERVICE_DOWN_TIME is down and never picked; back, what
its guests tell the platform: a guest that stopped while the worker was away shows
SHUTOFF (the power-state sync), and a guest that is no instance is reported to admins
and left alone. Work lost with no restart ends at its deadline (the beat's reaper).

The test hypervisor lives inside the worker process, so a restarted worker starts from
the host XML it is given: with the guest in it, the hypervisor kept it (as libvirtd keeps
guests when a compute worker crashes); without it, the host lost it. To kill the worker
in the middle of the work, it is frozen (SIGSTOP) before the work is cast to it; the
test then takes the message off the host's queue, as the frozen worker would have
taken it, and kills the worker: the work was taken and never reported.
"""

import json
import os
import signal
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
import redis
from django.utils import timezone

from cloud.celery import app
from cloud.conductor.power_sync import SYNC_EVENT
from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_is_up
from cloud.instances.models import Instance, InstanceAction
from cloud.instances.services import flavor_resources
from cloud.instances.specs import instance_spec
from cloud.messaging import compute_queue
from cloud.placement.models import Allocation
from cloud.placement.selectors import usage_by_provider
from cloud.rpc import call_compute
from cloud.workers.virt.domain_xml import DomainOptions, build_domain_xml
from tests.helpers import create_server, show, wait_status
from tests.integration.conftest import HOSTS, _host_xml, wait_for

HOST = "itest-a"
V21 = "/compute/v2.1/servers"
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
STRAY = "5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11"


class CrashableHost:
    """One compute worker of the session, to freeze, kill -9 and start again."""

    def __init__(self, workers, host: str) -> None:
        self.workers = workers
        self.host = host
        self.broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
        self.restarts = 0

    def freeze(self) -> None:
        """Stop the worker, and wait until Redis holds no BRPOP of its that would hand
        the next message to a process that cannot run it (kombu's BRPOP runs out in 1 s)."""
        # psutil comes with openstacksdk (requirements.txt).
        process = psutil.Process(self.workers.procs[self.host].pid)
        os.killpg(process.pid, signal.SIGSTOP)
        wait_for(
            lambda: process.status() == psutil.STATUS_STOPPED, 10, message=f"{self.host} stopped"
        )
        broker_port = self.broker.connection_pool.connection_kwargs["port"]
        addresses = {
            f"{c.laddr.ip}:{c.laddr.port}"
            for c in process.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == broker_port
        }
        assert addresses, f"{self.host} holds no connection to the broker"

        def waiting() -> bool:
            return any(
                c["addr"] in addresses and "b" in c["flags"] for c in self.broker.client_list()
            )

        # Twice in a row: a BRPOP sent just before the stop is read by Redis at the
        # latest along with the first listing.
        wait_for(
            lambda: not waiting() and not waiting(),
            10,
            interval=0.05,
            message=f"{self.host}'s last BRPOP ran out",
        )

    def thaw(self) -> None:
        os.killpg(self.workers.procs[self.host].pid, signal.SIGCONT)

    def take(self, task: str) -> None:
        """Take the one message cast to the host off its queue, as the worker would."""
        queue = compute_queue(self.host)
        raw = wait_for(lambda: self.broker.rpop(queue), 20, message=f"{task} cast to {self.host}")
        assert json.loads(raw)["headers"]["task"] == task
        assert not self.broker.llen(queue)

    def kill(self) -> None:
        self.started_before = ComputeNode.objects.get(host=self.host).started_at
        self.workers.kill(self.host)

    def start(self, domains: str = "") -> None:
        """Start the worker again, on a hypervisor holding `domains`, and wait till it is up."""
        self.restarts += 1
        uri = _host_xml(
            self.workers.logdir, f"{self.host}-restart-{self.restarts}", HOSTS[self.host], domains
        )
        self.workers.start_compute(self.host, uri)
        wait_for(
            lambda: (
                (node := ComputeNode.objects.get(host=self.host)).started_at != self.started_before
                and host_is_up(node)
            ),
            30,
            message=f"{self.host} back up",
        )

    def restart(self, domains: str = "") -> None:
        """kill -9 the worker and start it again."""
        self.kill()
        self.start(domains)

    def ensure_serving(self) -> None:
        """After a test that failed half-way: the host's worker alive and not frozen."""
        proc = self.workers.procs[self.host]
        state = Path(f"/proc/{proc.pid}/stat").read_text().split()[2] if proc.poll() is None else ""
        if state not in ("S", "R", "D"):
            self.restart()


@pytest.fixture
def crashable(cloud):
    host = CrashableHost(cloud, HOST)
    yield host
    host.ensure_serving()


def _guest_xml(server_id: str, *, shut_off: bool = False) -> str:
    """The domain the host defined for the server, as a test hypervisor file holds it."""
    instance = Instance.objects.get(uuid=server_id)
    xml = build_domain_xml(
        instance_spec(instance), DomainOptions(domain_type="test", instances_path=Path("/x"))
    )
    if not shut_off:
        return xml
    domain = ET.fromstring(xml)
    ET.SubElement(domain, f"{{{TEST_NS}}}runstate").text = "5"  # VIR_DOMAIN_SHUTOFF
    return ET.tostring(domain, encoding="unicode")


def _stray_xml() -> str:
    return (
        f"<domain type='test'><name>not-ours</name><uuid>{STRAY}</uuid>"
        "<memory>65536</memory><os><type>hvm</type></os></domain>"
    )


def _on_host(admin_client, name: str) -> dict:
    created = create_server(admin_client, name, availability_zone=f"nova:{HOST}")
    server = wait_status(admin_client, created["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    return server


def _settled(admin_client, server_id: str) -> dict:
    """The server once no task runs any more (within a minute: never stuck)."""
    wait_for(
        lambda: (
            (s := show(admin_client, server_id))
            and s["status"] in ("ACTIVE", "ERROR")
            and s["OS-EXT-STS:task_state"] is None
        ),
        60,
        message=f"{server_id} settled",
    )
    return show(admin_client, server_id)


def _claims_match_live_servers() -> None:
    """Every host's claims are exactly those of its live servers that were launched: a
    server that never started holds nothing."""
    for host in HOSTS:
        expected: Counter = Counter()
        holders = set()
        for instance in Instance.objects.filter(
            host=host, deleted=False, launched_at__isnull=False
        ):
            expected.update(flavor_resources(instance.flavor))
            holders.add(str(instance.uuid))
        claims = Allocation.objects.filter(provider__name=host)
        assert set(claims.values_list("consumer_id", flat=True)) == holders, host
        held: Counter = Counter()
        for resource_class, used in claims.values_list("resource_class", "used"):
            held[resource_class] += used
        assert held == expected, host
        usage = usage_by_provider(names=[host])[host]
        assert {rc: used for rc, used in usage.items() if used} == dict(expected), host


def _service_state(admin_client) -> str:
    services = admin_client.get(f"/compute/v2.1/os-services?host={HOST}").json()["services"]
    return services[0]["state"]


def _events(server_id: str, action: str) -> list[tuple[str, str | None, str | None]]:
    record = InstanceAction.objects.get(instance_uuid=server_id, action=action)
    return [(e.event, e.result, e.details) for e in record.events.all()]


@pytest.mark.parametrize("kept", [True, False], ids=["guest-kept", "guest-lost"])
def test_a_build_interrupted_by_a_crash_ends_active_or_in_error(admin_client, crashable, kept):
    crashable.freeze()
    created = create_server(admin_client, "crash-build", availability_zone=f"nova:{HOST}")
    crashable.take("compute.build_and_run_instance")
    mid = show(admin_client, created["id"])
    assert (mid["status"], mid["OS-EXT-STS:task_state"]) == ("BUILD", "spawning")

    crashable.restart(_guest_xml(created["id"]) if kept else "")

    server = _settled(admin_client, created["id"])
    if kept:
        # libvirt runs the guest: the build had finished, only its report was lost.
        assert server["status"] == "ACTIVE", server.get("fault")
        assert server["OS-EXT-SRV-ATTR:host"] == HOST
        assert server["OS-EXT-STS:power_state"] == 1
        diagnostics = admin_client.get(f"{V21}/{created['id']}/diagnostics")
        assert diagnostics.json()["state"] == "running"
    else:
        assert server["status"] == "ERROR"
        assert server["fault"]["message"]
        build = [
            e for e in _events(created["id"], "create") if e[0] == "compute_build_and_run_instance"
        ]
        assert build[0][1] == "Error" and "stopped during the build" in build[0][2]
        assert not Allocation.objects.filter(consumer_id=created["id"]).exists()
    _claims_match_live_servers()


@pytest.mark.parametrize("kept", [True, False], ids=["guest-kept", "guest-lost"])
def test_a_reboot_interrupted_by_a_crash_ends_active_or_in_error(admin_client, crashable, kept):
    server = _on_host(admin_client, "crash-reboot")
    crashable.freeze()
    response = admin_client.post(
        f"{V21}/{server['id']}/action", {"reboot": {"type": "SOFT"}}, format="json"
    )
    assert response.status_code == 202, response.content
    crashable.take("compute.reboot_instance")
    assert show(admin_client, server["id"])["status"] == "REBOOT"

    crashable.restart(_guest_xml(server["id"]) if kept else "")

    after = _settled(admin_client, server["id"])
    [(event, result, details)] = _events(server["id"], "reboot")
    assert event == "compute_reboot_instance"
    if kept:
        assert after["status"] == "ACTIVE", after.get("fault")
        assert after["OS-EXT-STS:power_state"] == 1
        assert result == "Success"
    else:
        assert after["status"] == "ERROR"
        assert after["fault"]["message"].startswith(f"Could not reboot the instance on {HOST}")
        assert "not on this host" in after["fault"]["message"]
        assert result == "Error" and "not on this host" in details
    # Launched on its host either way: its claim stays, and nothing more.
    _claims_match_live_servers()


def test_a_host_back_from_the_dead_shows_its_guests_as_they_are(admin_client, crashable):
    server = _on_host(admin_client, "stopped-while-away")

    crashable.kill()
    # Silent for SERVICE_DOWN_TIME (10 s here): down in os-services, and never picked.
    wait_for(lambda: _service_state(admin_client) == "down", 20, interval=0.5, message="host down")
    elsewhere = create_server(admin_client, "while-down")
    assert wait_status(admin_client, elsewhere["id"], {"ACTIVE"})["OS-EXT-SRV-ATTR:host"] != HOST

    # Meanwhile the guest shut down, and someone defined another guest on the host.
    crashable.start(_guest_xml(server["id"], shut_off=True) + _stray_xml())
    assert _service_state(admin_client) == "up"

    stopped = wait_status(admin_client, server["id"], {"SHUTOFF"}, timeout=30)
    assert stopped["OS-EXT-STS:power_state"] == 4
    listed = admin_client.get(f"{V21}/{server['id']}/os-instance-actions").json()
    stop = next(a for a in listed["instanceActions"] if a["action"] == "stop")
    [(event, result, details)] = _events(server["id"], "stop")
    assert (event, result) == (SYNC_EVENT, "Success")
    assert "stopped by itself" in details
    assert stop["request_id"]

    # The platform and the host agree again: the server starts.
    response = admin_client.post(f"{V21}/{server['id']}/action", {"os-start": None}, format="json")
    assert response.status_code == 202, response.content
    assert _settled(admin_client, server["id"])["status"] == "ACTIVE"

    hypervisors = admin_client.get("/compute/v2.1/os-hypervisors/detail").json()["hypervisors"]
    unknown = {h["service"]["host"]: h["unknown_domains"] for h in hypervisors}
    assert unknown[HOST] == [STRAY]
    assert STRAY in call_compute(HOST, "compute.list_instances", timeout=10)  # left alone
    _claims_match_live_servers()


def test_a_task_past_its_deadline_is_ended_by_the_reaper(admin_client, crashable):
    server = _on_host(admin_client, "hung-reboot")
    crashable.freeze()
    response = admin_client.post(
        f"{V21}/{server['id']}/action", {"reboot": {"type": "SOFT"}}, format="json"
    )
    assert response.status_code == 202, response.content
    crashable.take("compute.reboot_instance")
    crashable.thaw()  # alive, but the reboot is lost: nothing will ever report it
    # Ten minutes pass (the default deadline of 'rebooting'); beat sends the reaper.
    Instance.objects.filter(uuid=server["id"]).update(
        updated_at=timezone.now() - timedelta(seconds=601)
    )
    app.send_task("conductor.reap_stuck_builds")

    after = _settled(admin_client, server["id"])
    assert after["status"] == "ERROR"
    assert after["fault"]["message"] == (
        f"Task 'rebooting' timed out after 600s on {HOST}; the server is in ERROR."
    )
    [(event, result, details)] = _events(server["id"], "reboot")
    assert (event, result) == ("compute_reboot_instance", "Error") and "timed out" in details
    _claims_match_live_servers()
