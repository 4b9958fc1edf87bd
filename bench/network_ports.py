#!/usr/bin/env python
"""Network figures: port creates per second with concurrent clients, and the time for
a host's network agent to wire a new port (API call -> DHCP answer in the namespace).

    sudo .venv/bin/python bench/network_ports.py                 # own stack, as root
    .venv/bin/python bench/network_ports.py --ports 200 --clients 1,4,16

It starts a stack (deploy/stack.py start, free ports, private Redis, its network agents
on: each simulated host a network namespace with its own Open vSwitch), makes a
network with a /20 subnet as the admin, then:

- creates: for each client count C, `--ports` ports POSTed to /network/v2.0/ports by
  C threads (one HTTP session and one token each: IPAM in the database, one transaction
  per port), then deleted; ports per second = ports / wall time of the creates;
- wiring: `--wire` times, a port POSTed bound to a host (binding:host_id, as the
  conductor binds a server's), and a guest namespace on that host whose eth0 carries
  the port's MAC (its host end the port's tap, as libvirt would make it) asks for a
  lease with busybox udhcpc every 0.2 s until dnsmasq in the network's qdhcp namespace
  answers with the port's address; the time from the POST to the answer.

Root is needed for the wiring half (namespaces); without it only the creates run.
Everything stays on this machine (loopback and the stack's own namespaces); every loop
is bounded in count and time.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stack(var: Path, *argv: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "stack.py"), *argv, "--var-dir", str(var)],
        cwd=ROOT,
        check=True,
        stdin=subprocess.DEVNULL,
    )


def token(base: str, var: Path) -> str:
    """The admin's token (boot_storm's client: the same password authentication)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from boot_storm import Api, read_cloud

    api = Api(base, read_cloud(var / "clouds.yaml", "stratus"))
    api.authenticate()
    return api.token


class Neutron:
    def __init__(self, base: str, tok: str) -> None:
        self.url = f"{base}/network/v2.0"
        self.tok = tok
        self.local = threading.local()

    @property
    def http(self) -> requests.Session:
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
            self.local.s.headers.update({"X-Auth-Token": self.tok, "Accept": "application/json"})
        return self.local.s

    def post(self, kind: str, body: dict) -> dict:
        r = self.http.post(f"{self.url}/{kind}s", json={kind: body}, timeout=TIMEOUT)
        if r.status_code != 201:
            raise RuntimeError(f"POST {kind}: {r.status_code} {r.text[:300]}")
        return r.json()[kind]

    def delete(self, kind: str, ident: str) -> None:
        self.http.delete(f"{self.url}/{kind}s/{ident}", timeout=TIMEOUT)


def creates(api: Neutron, network_id: str, ports: int, clients: int) -> float:
    """Ports per second: `ports` creates by `clients` threads."""
    made: list[str] = []

    def one(_: int) -> None:
        made.append(api.post("port", {"network_id": network_id})["id"])

    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(ports)))
    wall = time.monotonic() - t0
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: api.delete("port", p), made))
    return ports / wall


def ns(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    return subprocess.run(full, check=check, capture_output=True, text=True, timeout=30)


def wire_once(api: Neutron, network_id: str, host_ns: str, host: str, deadline: float) -> float:
    """API call -> the DHCP answer for the port, in seconds."""
    guest = f"bench-{uuid.uuid4().hex[:6]}"
    ns("ip", "netns", "add", guest)
    try:
        t0 = time.monotonic()
        port = api.post(
            "port",
            {"network_id": network_id, "binding:host_id": host, "device_owner": "compute:bench"},
        )
        tap = f"tap{port['id'][:11]}"
        ns("ip", "link", "add", tap, "netns", host_ns, "type", "veth",
           "peer", "name", "eth0", "netns", guest)  # fmt: skip
        ns("ip", "link", "set", "eth0", "address", port["mac_address"], netns=guest)
        ns("ethtool", "-K", "eth0", "tx", "off", netns=guest, check=False)
        ns("ip", "link", "set", "eth0", "up", netns=guest)
        ns("ip", "link", "set", tap, "up", netns=host_ns)
        want = port["fixed_ips"][0]["ip_address"]
        while time.monotonic() < deadline:
            answer = ns("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "1", "-T", "1",
                        "-A", "0", "-s", "/bin/true", netns=guest, check=False)  # fmt: skip
            if f"lease of {want} obtained" in answer.stdout + answer.stderr:
                took = time.monotonic() - t0
                api.delete("port", port["id"])
                return took
            time.sleep(0.2)
        raise RuntimeError(f"no DHCP answer for port {port['id']} in time")
    finally:
        ns("ip", "netns", "delete", guest, check=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ports", type=int, default=100, help="ports per create round")
    p.add_argument("--clients", default="1,4,8", help="concurrent clients, comma-separated")
    p.add_argument("--wire", type=int, default=5, help="ports timed from API call to DHCP")
    p.add_argument("--timeout", type=float, default=600, help="the whole run, seconds")
    args = p.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    var = Path(tempfile.mkdtemp(prefix="stratus-bench-net-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log(f"starting a stack in {var} on port {port}")
    try:
        stack(
            var,
            "start",
            "--port",
            str(port),
            "--flower-port",
            "0",
            "--redis",
            "private",
            "--console-port",
            str(free_port()),
            "--computes",
            "2",
            "--heartbeat",
            "2",
        )
        api = Neutron(base, token(base, var))
        network = api.post("network", {"name": "bench"})
        api.post(
            "subnet",
            {"network_id": network["id"], "cidr": "10.40.0.0/20", "ip_version": 4},
        )
        results = {}
        for clients in (int(c) for c in args.clients.split(",")):
            results[clients] = creates(api, network["id"], args.ports, clients)
            log(f"{clients} clients: {results[clients]:.1f} port creates/s")
        wired: list[float] = []
        agents = (var / "run" / "network-agents").exists()
        if agents and os.geteuid() == 0:
            host_ns = f"st{port}-compute-1"
            for _ in range(args.wire):
                wired.append(wire_once(api, network["id"], host_ns, "compute-1", deadline))
                log(f"wired in {wired[-1]:.2f}s")
        print(f"port creates per second ({args.ports} ports, /20 subnet, PostgreSQL or SQLite "
              f"as DATABASE_URL says):")  # fmt: skip
        for clients, rate in results.items():
            print(f"  {clients:3d} concurrent clients: {rate:7.1f} /s")
        if wired:
            print(
                f"agent wiring, API call -> DHCP answer ({len(wired)} ports): median "
                f"{statistics.median(wired):.2f}s, min {min(wired):.2f}s, max {max(wired):.2f}s"
            )
        else:
            print("agent wiring: not measured (needs root and the stack's network agents)")
        return 0
    finally:
        stack(var, "stop")
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
