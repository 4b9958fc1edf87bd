"""Multi-host, as separate machines: compute workers and network agents each in their
host's network namespace (ip netns, a veth pair to the control plane's namespace)
reach the broker only over their link's address, as a host on another machine would: inside
a namespace 127.0.0.1 is the namespace's own loopback, where nothing listens. The
control plane (api under gunicorn, conductor, scheduler) runs on the other side,
its broker (Redis) and api bound to the link addresses; servers boot onto the
namespaced hosts through the api over HTTP, on a network: each host's agent (with
its own Open vSwitch in the namespace, the hosts' switches joined by a fabric,
cloud/netagent/simulated.py) wires the server's port and reports it ACTIVE. (A
compute has no database by design: tests/unit/test_compute_imports.py; the api and the
workers of the control plane reach PostgreSQL on their own machine.)"""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from cloud.hosts.selectors import host_names_schedulable
from cloud.netagent.simulated import Fabric
from cloud.network.selectors import agent_hosts_seen
from tests.conftest import free_port
from tests.helpers import TINY_IMAGE_ID
from tests.integration.conftest import HOST_CPUS, HOST_DISK_GB, ROOT, wait_for

HOSTS = ("mh-a", "mh-b")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _in(ns: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
    )


class Machines:
    """One namespace per host: `<ns>` with eth0 = 10.251.<n>.2/24, its link's other end
    (in the test's namespace) 10.251.<n>.1, the namespace's default route."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 10000}"
        # The namespaces' prefix is the simulated network hosts' (their fabric's) too.
        self.prefix = f"smh{tag}-"
        self.ns = {host: f"{self.prefix}{host}" for host in HOSTS}
        self.link = {host: f"smh{i}-{tag}" for i, host in enumerate(HOSTS)}
        # A subnet per run (two runs on one machine do not collide).
        net = [(os.getpid() % 120) * 2 + i + 1 for i in range(len(HOSTS))]
        self.gateway = {host: f"10.251.{net[i]}.1" for i, host in enumerate(HOSTS)}
        self.address = {host: f"10.251.{net[i]}.2" for i, host in enumerate(HOSTS)}

    def create(self) -> None:
        for host in HOSTS:
            ns, link = self.ns[host], self.link[host]
            _ip("netns", "add", ns)
            _ip("link", "add", link, "type", "veth", "peer", "name", f"{link}p")
            _ip("link", "set", f"{link}p", "netns", ns)
            _ip("addr", "add", f"{self.gateway[host]}/24", "dev", link)
            _ip("link", "set", link, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", f"{link}p", "name", "eth0")
            _ip("-n", ns, "addr", "add", f"{self.address[host]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "route", "add", "default", "via", self.gateway[host])

    def remove(self) -> None:
        for host in HOSTS:
            subprocess.run(["ip", "netns", "del", self.ns[host]], capture_output=True)
            subprocess.run(["ip", "link", "del", self.link[host]], capture_output=True)


@pytest.fixture
def machines():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2 (CI runs as root)")
    if not shutil.which("ovs-vswitchd"):
        pytest.skip("Open vSwitch missing: run deploy/ovs-host.sh (make test does under CI)")
    group = Machines()
    try:
        group.create()
    except subprocess.CalledProcessError as exc:
        group.remove()
        pytest.fail(f"cannot create network namespaces: {exc.stderr!r}")
    yield group
    group.remove()


def _start(procs: dict, name: str, argv: list[str], env: dict, logdir: Path) -> None:
    log = open(logdir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
    procs[name] = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(procs: dict) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _http(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "X-Auth-Token": token,
            "Content-Type": "application/json",
            "OpenStack-API-Version": "compute 2.96",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode() or "{}")


def test_computes_in_their_own_namespaces_boot_servers(admin_client, workers, machines, tmp_path):
    procs: dict[str, subprocess.Popen] = {}
    fabric = Fabric(machines.prefix, tmp_path / "network", list(HOSTS))
    redis_port, api_port = free_port(), free_port()
    gateways = list(machines.gateway.values())
    _start(
        procs,
        "redis",
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            *gateways,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        dict(os.environ),
        tmp_path,
    )
    control = {
        "CELERY_BROKER_URL": f"redis://{gateways[0]}:{redis_port}/0",
        "CELERY_RESULT_BACKEND": f"redis://{gateways[0]}:{redis_port}/1",
    }
    try:
        wait_for(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-h", gateways[0], "-p", str(redis_port), "ping"],
                    capture_output=True,
                ).returncode
                == 0
            ),
            20,
            message="the control plane's redis",
        )
        env = workers._env(**control)
        # The control plane: api (gunicorn on the first link's address), conductor,
        # scheduler; all on the broker bound to the link addresses.
        _start(
            procs,
            "api",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "cloud.wsgi:application",
                "--bind",
                f"{gateways[0]}:{api_port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ],
            env,
            tmp_path,
        )
        for name, queues, extra in (
            ("conductor", "conductor,conductor.heartbeat", ["-c", "4"]),
            ("scheduler", "scheduler", ["-c", "8"]),
            ("network", "network", ["-c", "4"]),
        ):
            _start(
                procs,
                name,
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "cloud.celery",
                    "worker",
                    "-Q",
                    queues,
                    "-n",
                    f"mh-{name}@%h",
                    "-P",
                    "threads",
                    *extra,
                    "--without-mingle",
                    "--without-gossip",
                    "-l",
                    "INFO",
                ],
                env,
                tmp_path,
            )
        # The hosts: each in its namespace, its broker its link's far end.
        for host in HOSTS:
            gateway = machines.gateway[host]
            xml = tmp_path / f"{host}.xml"
            xml.write_text(
                f"<node><cpu><mhz>2000</mhz><model>x86_64</model><nodes>1</nodes>"
                f"<sockets>1</sockets><cores>{HOST_CPUS}</cores><threads>1</threads>"
                f"<active>{HOST_CPUS}</active></cpu><memory>{2048 * 1024}</memory></node>"
            )
            compute_env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL")
            }
            compute_env.update(
                PYTHONUNBUFFERED="1",
                CELERY_BROKER_URL=f"redis://{gateway}:{redis_port}/0",
                CELERY_RESULT_BACKEND=f"redis://{gateway}:{redis_port}/1",
                COMPUTE_HOST=host,
                LIBVIRT_URI=f"test://{xml}",
                HEARTBEAT_INTERVAL="1",
                COMPUTE_DISK_GB=str(HOST_DISK_GB),
                COMPUTE_INSTANCES_PATH=str(tmp_path / "instances" / host),
                POWER_SYNC_INTERVAL="3600",
            )
            _start(
                procs,
                host,
                [
                    "ip",
                    "netns",
                    "exec",
                    machines.ns[host],
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "cloud.workers.app",
                    "worker",
                    "-Q",
                    f"compute.{host}",
                    "-n",
                    f"{host}@%h",
                    "-P",
                    "solo",
                    "-l",
                    "INFO",
                    "--without-mingle",
                    "--without-gossip",
                ],
                compute_env,
                tmp_path,
            )

        # Each host's network agent, in the host's namespace beside its switch, on the
        # same broker over the link.
        fabric.up()
        for host in HOSTS:
            gateway = machines.gateway[host]
            agent_env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL")
            }
            agent_env.update(
                fabric.agent_env(host),
                PYTHONUNBUFFERED="1",
                CELERY_BROKER_URL=f"redis://{gateway}:{redis_port}/0",
                CELERY_RESULT_BACKEND=f"redis://{gateway}:{redis_port}/1",
                NETWORK_AGENT_HEARTBEAT="1",
            )
            _start(
                procs,
                f"netagent-{host}",
                fabric.agent_argv(host, sys.executable, "-l", "INFO"),
                agent_env,
                tmp_path,
            )

        # As another machine: its loopback has no broker; the link's address has.
        ns = machines.ns[HOSTS[1]]
        probe = (
            "import socket, sys; s = socket.socket(); s.settimeout(2); "
            "sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))))"
        )
        assert _in(ns, sys.executable, "-c", probe, "127.0.0.1", str(redis_port)).returncode != 0
        gateway = machines.gateway[HOSTS[1]]
        assert _in(ns, sys.executable, "-c", probe, gateway, str(redis_port)).returncode == 0
        # ... and the api, over the link (through its gateway).
        wait_for(
            lambda: (
                _in(ns, sys.executable, "-c", probe, gateways[0], str(api_port)).returncode == 0
            ),
            30,
            message="the api from the namespace",
        )

        wait_for(
            lambda: set(HOSTS) <= set(host_names_schedulable().values_list("host", flat=True)),
            60,
            message=f"namespaced hosts up; logs in {tmp_path}",
        )
        since = timezone.now() - timedelta(minutes=5)
        wait_for(
            lambda: set(HOSTS) <= agent_hosts_seen(since=since),
            60,
            message=f"the hosts' network agents reported in; logs in {tmp_path}",
        )
        token = admin_client._credentials["HTTP_X_AUTH_TOKEN"]
        base = f"http://{gateways[0]}:{api_port}/compute/v2.1"
        neutron = f"http://{gateways[0]}:{api_port}/network/v2.0"
        status, network = _http("POST", f"{neutron}/networks", token, {"network": {"name": "mh"}})
        assert status == 201, network
        network_id = network["network"]["id"]
        subnet = {"subnet": {"network_id": network_id, "cidr": "10.252.0.0/24", "ip_version": 4}}
        assert _http("POST", f"{neutron}/subnets", token, subnet)[0] == 201
        hypervisors = _http("GET", f"{base}/os-hypervisors", token)[1]["hypervisors"]
        assert set(HOSTS) <= {h["hypervisor_hostname"] for h in hypervisors}

        booted = {}
        for host in HOSTS:
            status, body = _http(
                "POST",
                f"{base}/servers",
                token,
                {
                    "server": {
                        "name": f"on-{host}",
                        "imageRef": TINY_IMAGE_ID,
                        "flavorRef": "1",
                        "networks": [{"uuid": network_id}],
                        "availability_zone": f"nova:{host}",
                    }
                },
            )
            assert status == 202, body
            booted[host] = body["server"]["id"]

        def settled(server_id: str) -> dict:
            return _http("GET", f"{base}/servers/{server_id}", token)[1]["server"]

        for host, server_id in booted.items():
            wait_for(
                lambda server_id=server_id: settled(server_id)["status"] in ("ACTIVE", "ERROR"),
                60,
                message=f"server on {host}; logs in {tmp_path}",
            )
            server = settled(server_id)
            assert server["status"] == "ACTIVE", server.get("fault")
            assert server["OS-EXT-SRV-ATTR:host"] == host
        # Each host's agent wired its server's port (its report came over the link).
        for host, server_id in booted.items():
            wait_for(
                lambda server_id=server_id, host=host: (
                    {
                        (p["binding:host_id"], p["status"])
                        for p in _http("GET", f"{neutron}/ports?device_id={server_id}", token)[1][
                            "ports"
                        ]
                    }
                    == {(host, "ACTIVE")}
                ),
                60,
                message=f"the port on {host} ACTIVE; logs in {tmp_path}",
            )
        # The hypervisor in the namespace has the guest (a synchronous call over the link).
        for server_id in booted.values():
            status, diag = _http("GET", f"{base}/servers/{server_id}/diagnostics", token)
            assert status == 200 and diag["state"] == "running", diag
        for server_id in booted.values():
            assert _http("DELETE", f"{base}/servers/{server_id}", token)[0] == 204
        for server_id in booted.values():
            wait_for(
                lambda server_id=server_id: (
                    _http("GET", f"{base}/servers/{server_id}", token)[0] == 404
                ),
                60,
                message="deleted",
            )
    finally:
        _stop(procs)
        fabric.down()
