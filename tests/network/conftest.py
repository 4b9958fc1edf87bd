"""The network agents' lab: simulated hosts in network namespaces, real agents.

Two hosts (`host-a`, `host-b`), each a network namespace with its own Open vSwitch,
joined by a fabric carrying the VLANs (cloud.netagent.simulated); a network agent per
host, a real Celery worker running inside its host's namespace, on `network.<host>`;
a private Redis listening on a Unix socket the namespaces share; guests as namespaces
whose eth0 is a veth to the host (its host end named like libvirt's tap). Root only:
namespaces, switches and nftables need it (CI runs as root; elsewhere the tests skip).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from kombu import Connection

from cloud.netagent.shell import run
from cloud.netagent.simulated import Fabric

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ["host-a", "host-b"]
# What udhcpc runs on a lease: configure eth0 as the DHCP server said.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    ;;
esac
exit 0
"""


def _root_lab_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("the network agent lab needs root (namespaces, Open vSwitch, nftables)")
    missing = [
        t for t in ("ovs-vswitchd", "dnsmasq", "nft", "ethtool", "busybox") if not shutil.which(t)
    ]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} missing: run deploy/ovs-host.sh (make test does under CI)"
        )


class Lab:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        # Short and unique: several runs (and the dev stack) may share the machine.
        self.prefix = f"t{uuid.uuid4().hex[:5]}-"
        self.fabric = Fabric(self.prefix, directory, HOSTS)
        self.socket = directory / "redis.sock"
        self.redis: subprocess.Popen | None = None
        self.agents: dict[str, subprocess.Popen] = {}
        self.broker = f"redis+socket://{self.socket}"
        self.script = directory / "udhcpc.sh"
        self.script.write_text(UDHCPC_SCRIPT)
        self.script.chmod(0o755)
        self.reports: list[tuple[str, dict]] = []

    # -- lifecycle ---------------------------------------------------------------------

    def up(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
        self.app = Celery("netagent-tests", broker=self.broker)
        self.app.conf.task_serializer = "json"
        self.fabric.up()
        for host in HOSTS:
            self.start_agent(host)

    def down(self) -> None:
        for host in list(self.agents):
            self.stop_agent(host)
        self.fabric.down()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(10)

    def start_agent(self, host: str) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            self.fabric.agent_env(host),
            CELERY_BROKER_URL=self.broker,
            CELERY_RESULT_BACKEND=self.broker,
            NETWORK_AGENT_HEARTBEAT="2",
            PYTHONUNBUFFERED="1",
        )
        log = open(self.dir / f"{host}.log", "ab")  # noqa: SIM115 - lives with the process
        self.agents[host] = subprocess.Popen(
            self.fabric.agent_argv(host, sys.executable, "-l", "INFO"),
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.wait_report("network.agent_heartbeat", lambda p: p["host"] == host, timeout=60)

    def stop_agent(self, host: str) -> None:
        proc = self.agents.pop(host)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def log(self, host: str) -> str:
        return (self.dir / f"{host}.log").read_text(errors="replace")

    # -- messages ----------------------------------------------------------------------

    def send(self, host: str, task: str, payload) -> None:
        # An explicit connection: CELERY_BROKER_URL (the session's Redis) would win over
        # the app's own broker.
        with Connection(self.broker) as conn:
            self.app.send_task(
                task, args=[payload.to_dict()], queue=f"network.{host}", connection=conn
            )

    def _drain(self) -> None:
        with Connection(self.broker) as conn, conn.SimpleQueue("network") as queue:
            while True:
                try:
                    message = queue.get(block=True, timeout=0.2)
                except queue.Empty:
                    return
                message.ack()
                args = message.payload[0] if isinstance(message.payload, list) else []
                self.reports.append((message.headers["task"], args[0] if args else {}))

    def wait_report(self, task: str, match, timeout: float = 60) -> dict:
        """The first report of `task` whose payload `match`es (consumed)."""
        deadline = time.monotonic() + timeout
        while True:
            for index, (name, payload) in enumerate(self.reports):
                if name == task and match(payload):
                    del self.reports[index]
                    return payload
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {h}\n{self.log(h)[-3000:]}" for h in HOSTS)
                raise AssertionError(f"no {task} report matching in {timeout}s\n{logs}")
            self._drain()

    def wait_status(self, port_id: str, status: str, timeout: float = 60) -> dict:
        return self.wait_report(
            "network.port_status",
            lambda p: p["port_id"] == port_id and p["status"] == status,
            timeout,
        )

    # -- the hosts and guests ----------------------------------------------------------

    def host_ns(self, host: str) -> str:
        return self.fabric.ns(host)

    def vsctl(self, host: str, *args: str) -> str:
        db = self.fabric.agent_env(host)["OVS_DB"]
        return run(["ovs-vsctl", f"--db={db}", *args]).strip()

    def appctl(self, host: str, *args: str) -> str:
        target = self.fabric.rundir(host) / "ovs-vswitchd.ctl"
        return run(["ovs-appctl", "-t", str(target), *args])

    def guest(self, name: str, host: str, tap: str, mac: str) -> str:
        """A guest namespace whose eth0 (MAC `mac`) is a veth to `tap` on `host`."""
        ns = f"{self.prefix}{name}"
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "set", "lo", "up"], netns=ns)
        run(["ip", "link", "add", tap, "netns", self.host_ns(host), "type", "veth",
             "peer", "name", "eth0", "netns", ns])  # fmt: skip
        run(["ip", "link", "set", "eth0", "address", mac], netns=ns)
        # The userspace datapath reads frames by packet socket: checksums must be real.
        run(["ethtool", "-K", "eth0", "tx", "off"], netns=ns)
        run(["ip", "link", "set", "eth0", "up"], netns=ns)
        run(["ip", "link", "set", tap, "up"], netns=self.host_ns(host))
        return ns

    def outside(self, name: str, cidr: str) -> str:
        """A namespace on the fabric, untagged: the external network's side."""
        ns = f"{self.prefix}{name}"
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "set", "lo", "up"], netns=ns)
        self.fabric.plug(f"out-{name}"[:15], ns, "eth0")
        run(["ip", "addr", "add", cidr, "dev", "eth0"], netns=ns)
        return ns

    def dhcp(self, ns: str, tries: int = 30) -> str:
        """Ask for a lease in guest `ns` (udhcpc, as a guest's init does); its address."""
        out = subprocess.run(
            ["ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q",
             "-t", str(tries), "-T", "1", "-A", "1", "-s", str(self.script)],
            capture_output=True, text=True, timeout=tries * 2 + 30,
        )  # fmt: skip
        assert out.returncode == 0, f"udhcpc in {ns}: {out.stdout}{out.stderr}"
        return run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"], netns=ns).split()[3]

    def ping(self, ns: str, address: str, count: int = 2) -> bool:
        done = subprocess.run(
            ["ip", "netns", "exec", ns, "busybox", "ping", "-c", str(count), "-W", "2", address],
            capture_output=True, timeout=30,
        )  # fmt: skip
        return done.returncode == 0

    def tcp_connects(self, ns: str, address: str, port: int) -> bool:
        code = f"import socket; socket.create_connection(({address!r}, {port}), timeout=3).close()"
        done = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True, timeout=30
        )
        return done.returncode == 0


@pytest.fixture(scope="module")
def lab():
    _root_lab_or_skip()
    directory = Path(tempfile.mkdtemp(prefix="stratus-netlab-"))
    directory.chmod(0o755)
    lab = Lab(directory)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
        if not os.environ.get("NETLAB_KEEP"):
            shutil.rmtree(directory, ignore_errors=True)
