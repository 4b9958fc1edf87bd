#!/usr/bin/env python
"""Boot storm: boot N servers through the compute API, wait for ACTIVE, delete them all.

    .venv/bin/python bench/boot_storm.py                      # production: 100 hosts, 1,000
    .venv/bin/python bench/boot_storm.py --shape dev          # the embedded defaults (SQLite)
    .venv/bin/python bench/boot_storm.py --count 200 --save   # and keep the figures
    .venv/bin/python bench/boot_storm.py --url http://127.0.0.1:8000 \
        --cloud-config var/clouds.yaml                        # an already running stack

In `--mode cycle` (the default, Rally's boot-and-delete) each client thread (one
requests.Session each) boots a server, waits until it is ACTIVE, deletes it, waits
until it is gone, and takes the next, until N servers went through; so at most one
server per client is alive and the latencies are those of a steady load. In
`--mode waves` the clients POST all N servers, then DELETE them all once every one
is ACTIVE or ERROR. Either way the main thread polls `GET /servers/detail` page by
page (filtered on this run's name prefix) and notes when each server is first seen
ACTIVE or ERROR, and gone. Exit status: 0 when every server booted and went away in
time, 1 otherwise, 2 when the run could not start, 130 on Ctrl-C.
"""

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "boot_storm.json"
# The embedded defaults' figures (--shape dev) are kept beside the production shape's.
RESULTS_DEV = ROOT / "bench" / "results" / "boot_storm_sqlite.json"
MICROVERSION = "compute 2.96"
HTTP_TIMEOUT = 60.0  # one request; the run as a whole is bounded by --timeout
CLEANUP_GRACE = 60.0  # after a timeout, how long deleting what is left may take
PROGRESS_EVERY = 5.0


class RunAborted(Exception):
    """The run cannot go on (stack would not start, authentication failed, ...)."""


# -- small helpers -----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..1) of values, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fmt(value: float | None, unit: str = "s", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def venv_python() -> str:
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


# -- CPU per role ------------------------------------------------------------------
ROLES = (
    # (role, what its command line holds), first match wins
    ("api", ("gunicorn", "runserver")),
    ("conductor", ("-Q conductor",)),
    ("scheduler", ("-Q scheduler",)),
    ("compute", ("cloud.workers.app",)),
    # The hosts' network agents (their queues are network.<host>) before the controller.
    ("netagent", ("cloud.netagent.app",)),
    ("network", ("-Q network ",)),
    ("redis", ("redis-server",)),
    ("beat", (" beat ",)),
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if cmd.startswith("postgres"):
        return "postgres"
    return next((role for role, marks in ROLES if any(m in cmd for m in marks)), "other")


def cpu_by_role(root: int | None, database: str | None) -> dict[str, float]:
    """CPU seconds used so far by the processes under `root` (the stack's supervisor),
    by role, and by the PostgreSQL backends serving `database` (when it is a private
    cluster, those are under root too)."""
    pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    stats = {pid: st for pid in pids if (st := _proc_stat(pid))}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = set(), [root] if root else []
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += children.get(pid, [])
    used: dict[str, float] = {}
    for pid in tree:
        if pid in stats:
            role = _role(pid)
            used[role] = used.get(role, 0.0) + stats[pid][1]
    if database:
        for pid, (_, cpu) in stats.items():
            if pid in tree:
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            # "postgres: <user> <database> <client> <state>", the machine's cluster
            if cmd.startswith("postgres: ") and f" {database} " in cmd:
                used["postgres"] = used.get("postgres", 0.0) + cpu
    return used


# -- the stack under test ------------------------------------------------------
class OwnStack:
    """A private stack in a temp var dir on free ports, started and stopped by us."""

    # The stack options of this bench's parser that the other benches (volumes, image_boot,
    # volume_attach, consoles) do not ask for: they run the embedded defaults.
    DEFAULTS = {"shape": "dev", "postgres": "auto", "heartbeat": 10.0}

    def __init__(self, args: argparse.Namespace) -> None:
        for name, value in self.DEFAULTS.items():
            if not hasattr(args, name):
                setattr(args, name, value)
        self.args = args
        self.var = Path(args.var_dir or tempfile.mkdtemp(prefix="stratus-boot-storm-"))
        self.port = free_port()
        self.started = False

    def _stack(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        if self.args.shape == "dev":
            # The embedded defaults: SQLite under the var dir.
            env.pop("DATABASE_URL", None)
        return subprocess.run(
            [venv_python(), str(ROOT / "deploy" / "stack.py"), *argv, "--var-dir", str(self.var)],
            cwd=ROOT,
            check=check,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    def start(self) -> float:
        a = self.args
        log(f"starting a {self.args.shape} stack in {self.var} on port {self.port}")
        t0 = time.monotonic()
        self.started = True  # from here on, always try to stop it
        try:
            self._stack(
                "start",
                "--port",
                str(self.port),
                "--flower-port",
                "0",
                "--console-port",
                str(free_port()),
                "--redis",
                "private",
                "--computes",
                str(a.computes),
                "--host-cpus",
                str(a.host_cpus),
                "--host-memory-mb",
                str(a.host_memory_mb),
                "--host-disk-gb",
                str(a.host_disk_gb),
                "--shape",
                a.shape,
                "--postgres",
                a.postgres,
                # Booted and gone in well under a second: the heartbeat's pace is not the
                # bench's, and 100 hosts' heartbeats are work for the conductor.
                "--heartbeat",
                str(a.heartbeat),
            )
        except subprocess.CalledProcessError as exc:
            raise RunAborted(f"stack failed to start; see {self.log_path}") from exc
        return time.monotonic() - t0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the stack's processes, by role."""
        pid_file = self.var / "run" / "stack.pid"
        root = int(pid_file.read_text()) if pid_file.exists() else None
        url_file = self.var / "run" / "database.url"
        database = None
        if url_file.exists():
            database = url_file.read_text().rsplit("/", 1)[-1].split("?")[0]
        return cpu_by_role(root, database)

    @property
    def cloud_config(self) -> Path:
        return self.var / "clouds.yaml"

    @property
    def log_path(self) -> Path:
        return self.var / "log" / "stack.log"

    def stop(self, keep: bool) -> None:
        if not self.started:
            return
        log("stopping the stack")
        # Ignore Ctrl-C while stopping: leaving workers behind is worse.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._stack("stop", check=False)
        finally:
            signal.signal(signal.SIGINT, previous)
        self.started = False
        if keep or self.args.var_dir:
            log(f"kept the var dir (logs in {self.log_path})")
        else:
            shutil.rmtree(self.var, ignore_errors=True)


# -- the API client ----------------------------------------------------------
@dataclass
class Credentials:
    auth_url: str
    username: str
    password: str
    project_name: str
    user_domain: str = "Default"
    project_domain: str = "Default"


def read_cloud(path: Path, cloud: str) -> Credentials:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RunAborted(f"cannot read {path}: {exc}") from exc
    entry = ((data or {}).get("clouds") or {}).get(cloud)
    if not entry or "auth" not in entry:
        raise RunAborted(f"no cloud {cloud!r} with an auth section in {path}")
    auth = entry["auth"]
    return Credentials(
        auth_url=auth["auth_url"].rstrip("/"),
        username=auth["username"],
        password=auth["password"],
        project_name=auth["project_name"],
        user_domain=auth.get("user_domain_name", "Default"),
        project_domain=auth.get("project_domain_name", "Default"),
    )


class Api:
    """Thin compute-API client: one requests.Session per thread, one token for all."""

    def __init__(self, base: str, creds: Credentials, identity_url: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.compute = f"{self.base}/compute/v2.1"
        self.creds = creds
        self.identity_url = identity_url or f"{self.base}/identity/v3"
        self._local = threading.local()
        self.token = ""
        self.project_id = ""

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {
                    "Accept": "application/json",
                    "OpenStack-API-Version": MICROVERSION,
                    "User-Agent": "stratus-boot-storm",
                }
            )
            self._local.session = session
        if self.token:
            session.headers["X-Auth-Token"] = self.token
        return session

    def authenticate(self) -> None:
        c = self.creds
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": c.username,
                            "domain": {"name": c.user_domain},
                            "password": c.password,
                        }
                    },
                },
                "scope": {
                    "project": {"name": c.project_name, "domain": {"name": c.project_domain}}
                },
            }
        }
        try:
            r = self.session.post(
                f"{self.identity_url}/auth/tokens", json=body, timeout=HTTP_TIMEOUT
            )
        except requests.RequestException as exc:
            raise RunAborted(f"identity not reachable at {self.identity_url}: {exc}") from exc
        if r.status_code != 201 or not r.headers.get("X-Subject-Token"):
            raise RunAborted(f"authentication failed: HTTP {r.status_code} {r.text[:300]}")
        self.token = r.headers["X-Subject-Token"]
        self.project_id = r.json()["token"]["project"]["id"]

    def quotas_unlimited(self) -> None:
        """No instance, core or RAM quota for the run's project (its admin may say so): the
        bench measures the boot path, not the default quota of 10 servers."""
        r = self.session.put(
            f"{self.compute}/os-quota-sets/{self.project_id}",
            json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}},
            timeout=HTTP_TIMEOUT,
        )
        if r.status_code != 200:
            raise RunAborted(f"cannot lift the quotas: HTTP {r.status_code} {r.text[:300]}")

    def image_id(self, name: str) -> str:
        r = self.session.get(
            f"{self.base}/image/v2/images", params={"name": name}, timeout=HTTP_TIMEOUT
        )
        r.raise_for_status()
        images = r.json().get("images", [])
        if not images:
            raise RunAborted(f"no image named {name!r}")
        return images[0]["id"]

    def list_servers(self, name_regex: str, page_size: int) -> tuple[list[dict], int]:
        """Every server whose name matches, following the next links; (servers, pages)."""
        url = f"{self.compute}/servers/detail"
        params: dict | None = {"name": name_regex, "limit": page_size}
        servers: list[dict] = []
        pages = 0
        while url:
            r = self.session.get(url, params=params, timeout=HTTP_TIMEOUT)
            r.raise_for_status()
            body = r.json()
            pages += 1
            servers += body.get("servers", [])
            nxt = [link["href"] for link in body.get("servers_links", []) if link["rel"] == "next"]
            # The next link carries the whole query (filters, limit and marker).
            url, params = (nxt[0], None) if nxt and body.get("servers") else ("", None)
        return servers, pages


# -- the run -------------------------------------------------------------------
@dataclass
class Server:
    name: str
    id: str = ""
    t_post: float = 0.0  # monotonic, just before the POST was sent
    t_post_done: float = 0.0
    t_active: float | None = None
    t_error: float | None = None
    fault: str = ""
    host: str = ""
    t_delete: float | None = None
    t_delete_done: float | None = None
    t_gone: float | None = None
    post_error: str = ""
    delete_error: str = ""
    # Set when the poller saw it ACTIVE or ERROR, and when it saw it gone (cycle mode).
    booted: threading.Event = field(default_factory=threading.Event)
    gone: threading.Event = field(default_factory=threading.Event)


@dataclass
class Run:
    args: argparse.Namespace
    api: Api
    prefix: str
    deadline: float
    servers: list[Server] = field(default_factory=list)
    by_id: dict[str, Server] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    poll_times: list[float] = field(default_factory=list)
    poll_pages: int = 0
    poll_errors: list[str] = field(default_factory=list)
    timed_out: str = ""
    t_boot_start: float = 0.0
    t_boot_end: float | None = None
    t_delete_start: float | None = None
    t_delete_end: float | None = None
    unknown_seen: set[str] = field(default_factory=set)
    _poll_started: float = 0.0

    @property
    def name_regex(self) -> str:
        return f"^{self.prefix}"

    # -- one request per server, from the pool ----------------------------
    def boot_one(self, server: Server, image_id: str) -> None:
        if self.stop.is_set() or time.monotonic() >= self.deadline:
            server.post_error = "not sent: run stopped or timed out"
            return
        body = {
            "server": {
                "name": server.name,
                "imageRef": image_id,
                "flavorRef": self.args.flavor,
                "networks": "none",
            }
        }
        server.t_post = time.monotonic()
        try:
            r = self.api.session.post(
                f"{self.api.compute}/servers", json=body, timeout=HTTP_TIMEOUT
            )
        except requests.RequestException as exc:
            server.post_error = f"{type(exc).__name__}: {exc}"
            return
        finally:
            server.t_post_done = time.monotonic()
        if r.status_code != 202:
            server.post_error = f"HTTP {r.status_code}: {r.text[:300]}"
            return
        server.id = r.json()["server"]["id"]
        with self.lock:
            self.by_id[server.id] = server

    def delete_one(self, server: Server) -> None:
        if self.stop.is_set():
            server.delete_error = "not sent: run stopped"
            return
        server.t_delete = time.monotonic()
        try:
            r = self.api.session.delete(
                f"{self.api.compute}/servers/{server.id}", timeout=HTTP_TIMEOUT
            )
        except requests.RequestException as exc:
            server.delete_error = f"{type(exc).__name__}: {exc}"
            return
        finally:
            server.t_delete_done = time.monotonic()
        if r.status_code == 404:
            server.t_gone = server.t_gone or time.monotonic()
        elif r.status_code != 204:
            server.delete_error = f"HTTP {r.status_code}: {r.text[:300]}"

    # -- polling ------------------------------------------------------------
    def poll(self) -> list[dict] | None:
        t0 = self._poll_started = time.monotonic()
        try:
            listed, pages = self.api.list_servers(self.name_regex, self.args.page_size)
        except (requests.RequestException, ValueError) as exc:
            self.poll_errors.append(f"{type(exc).__name__}: {exc}")
            return None
        seen = time.monotonic()
        self.poll_times.append(seen - t0)
        self.poll_pages += pages
        return listed

    def note_boot_states(self, listed: list[dict], seen: float) -> None:
        with self.lock:
            for item in listed:
                server = self.by_id.get(item["id"])
                if server is None:
                    # Created, but its POST has not returned yet: next round.
                    self.unknown_seen.add(item["id"])
                    continue
                server.host = item.get("OS-EXT-SRV-ATTR:host") or server.host
                status = item.get("status")
                if status == "ACTIVE" and server.t_active is None:
                    server.t_active = seen
                    server.booted.set()
                elif status == "ERROR" and server.t_error is None:
                    server.t_error = seen
                    fault = item.get("fault") or {}
                    server.fault = fault.get("message") or "(no fault message)"
                    server.booted.set()

    def note_cycle_states(self, listed: list[dict], seen: float, started: float) -> None:
        """Boot states as in note_boot_states; and a server whose DELETE had answered
        before this listing began, and is not in it, is gone."""
        self.note_boot_states(listed, seen)
        present = {item["id"] for item in listed}
        with self.lock:
            deleting = [x for x in self.by_id.values() if x.t_gone is None and x.t_delete_done]
        for x in deleting:
            if x.t_delete_done < started and x.id not in present:
                x.t_gone = seen
                x.gone.set()

    def wait_until(self, done, poll_action, phase: str, deadline: float) -> bool:
        """Poll until done() or the deadline; True when done."""
        next_progress = time.monotonic() + PROGRESS_EVERY
        while True:
            start = time.monotonic()
            listed = self.poll()
            if listed is not None:
                poll_action(listed, time.monotonic())
            if done():
                return True
            now = time.monotonic()
            if now >= next_progress:
                log(f"{phase}: {self.progress(phase)}")
                next_progress = now + PROGRESS_EVERY
            if now >= deadline:
                return False
            # One listing in flight at a time (one connection beside the clients'), at
            # least --poll-interval apart. A slow round is one that queued behind the
            # clients' requests, not one that loaded the API: backing off after it (five
            # times its length, before 2026-12-03) made the boot and delete latencies
            # mostly the poller's own wait, and the cycles of a closed loop with them.
            time.sleep(max(0.0, min(self.args.poll_interval - (now - start), deadline - now)))

    def progress(self, phase: str) -> str:
        s = self.servers
        if phase == "boot":
            posted = sum(1 for x in s if x.id)
            active = sum(1 for x in s if x.t_active is not None)
            error = sum(1 for x in s if x.t_error is not None)
            failed = sum(1 for x in s if x.post_error)
            return (
                f"posted {posted}/{len(s)}, active {active}, error {error}, "
                f"building {posted - active - error}, POST failed {failed}"
            )
        targets = [x for x in s if x.id]
        gone = sum(1 for x in targets if x.t_gone is not None)
        sent = sum(1 for x in targets if x.t_delete is not None)
        deleting = f"DELETE sent {sent}/{len(targets)}, gone {gone}/{len(targets)}"
        if phase == "cycle":
            active = sum(1 for x in s if x.t_active is not None)
            return f"posted {len(targets)}/{len(s)}, active {active}, {deleting}"
        return deleting

    # -- phases ---------------------------------------------------------------
    def cycle_one(self, server: Server, image_id: str) -> None:
        """One client's boot-and-delete of one server (Rally's boot_and_delete_server)."""
        self.boot_one(server, image_id)
        if not server.id:
            return
        if not server.booted.wait(max(0.0, self.deadline - time.monotonic())):
            return
        if self.stop.is_set():
            return
        self.delete_one(server)
        if server.delete_error or server.t_gone is not None:
            server.gone.set()
            return
        server.gone.wait(max(0.0, self.deadline - time.monotonic()))

    def cycles(self, image_id: str) -> None:
        n = self.args.count
        self.servers = [Server(name=f"{self.prefix}{i:05d}") for i in range(n)]
        log(f"cycle: {n} boot-and-delete cycles, {self.args.concurrency} clients")
        pool = ThreadPoolExecutor(self.args.concurrency, thread_name_prefix="cycle")
        self.t_boot_start = time.monotonic()
        self.t_delete_start = self.t_boot_start
        futures = [pool.submit(self.cycle_one, s, image_id) for s in self.servers]

        def note(listed: list[dict], seen: float) -> None:
            self.note_cycle_states(listed, seen, self._poll_started)

        try:
            if not self.wait_until(
                lambda: all(f.done() for f in futures), note, "cycle", self.deadline
            ):
                self.timed_out = "cycle"
                log(f"cycle: timed out: {self.progress('cycle')}")
        finally:
            self.stop.set()
            for x in self.servers:
                x.booted.set()
                x.gone.set()
            self._pool_done(pool)
        gone = [x.t_gone for x in self.servers if x.t_gone is not None]
        self.t_delete_end = max(gone) if gone else None
        log(f"cycle: finished: {self.progress('cycle')}")

    def _pool_done(self, pool: ThreadPoolExecutor) -> None:
        """Wait for the clients (told to stop), then note what was never sent and when
        the last boot ended."""
        pool.shutdown(wait=True, cancel_futures=True)
        self.stop.clear()
        for x in self.servers:
            if not x.id and not x.post_error:
                x.post_error = "not sent: run stopped or timed out"
        ends = [x.t_active for x in self.servers if x.t_active is not None]
        self.t_boot_end = max(ends) if ends else None

    def boot(self, image_id: str) -> None:
        n = self.args.count
        self.servers = [Server(name=f"{self.prefix}{i:05d}") for i in range(n)]
        log(f"boot: POSTing {n} servers, {self.args.concurrency} at a time")
        pool = ThreadPoolExecutor(self.args.concurrency, thread_name_prefix="boot")
        self.t_boot_start = time.monotonic()
        futures: list[Future] = [pool.submit(self.boot_one, s, image_id) for s in self.servers]
        try:

            def done() -> bool:
                if not all(f.done() for f in futures):
                    return False
                return all(
                    x.post_error or x.t_active is not None or x.t_error is not None
                    for x in self.servers
                )

            if not self.wait_until(done, self.note_boot_states, "boot", self.deadline):
                self.timed_out = "boot"
                log(f"boot: timed out: {self.progress('boot')}")
        finally:
            self.stop.set()
            self._pool_done(pool)
        log(f"boot: finished: {self.progress('boot')}")

    def delete(self) -> None:
        # Delete whatever exists under our prefix, including servers whose POST
        # did not answer in time but which were created anyway.
        deadline = self.deadline
        if time.monotonic() >= deadline:
            deadline = time.monotonic() + CLEANUP_GRACE
        listed = self.poll() or []
        with self.lock:
            for item in listed:
                if item["id"] not in self.by_id:
                    stray = Server(name=item.get("name", ""), id=item["id"])
                    stray.post_error = "POST did not answer, but the server was created"
                    self.servers.append(stray)
                    self.by_id[stray.id] = stray
        targets = [x for x in self.servers if x.id]
        if not targets:
            return
        log(f"delete: DELETEing {len(targets)} servers, {self.args.concurrency} at a time")
        pool = ThreadPoolExecutor(self.args.concurrency, thread_name_prefix="delete")
        self.t_delete_start = time.monotonic()
        futures = [pool.submit(self.delete_one, s) for s in targets]

        def note_gone(listed: list[dict], seen: float) -> None:
            present = {item["id"] for item in listed}
            for x in targets:
                if x.t_delete is not None and x.t_gone is None and x.id not in present:
                    x.t_gone = seen

        def done() -> bool:
            return all(f.done() for f in futures) and all(
                x.t_gone is not None or x.delete_error for x in targets
            )

        try:
            if not self.wait_until(done, note_gone, "delete", deadline):
                self.timed_out = self.timed_out or "delete"
                log(f"delete: timed out: {self.progress('delete')}")
        finally:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self.stop.clear()
        gone = [x.t_gone for x in targets if x.t_gone is not None]
        self.t_delete_end = max(gone) if gone else None
        log(f"delete: finished: {self.progress('delete')}")

    # -- figures ----------------------------------------------------------------
    def summary(self) -> dict:
        s = [x for x in self.servers if x.t_post or x.post_error]
        n = self.args.count
        boot_lat = [x.t_active - x.t_post for x in s if x.t_active is not None]
        post_lat = [x.t_post_done - x.t_post for x in s if x.id and x.t_post]
        del_lat = [x.t_gone - x.t_delete for x in s if x.t_gone and x.t_delete]
        del_req = [x.t_delete_done - x.t_delete for x in s if x.t_delete_done and x.t_delete]
        errors = [x for x in self.servers if x.t_error is not None]
        post_failed = [x for x in self.servers if x.post_error]
        never_active = [
            x for x in self.servers if x.id and x.t_active is None and x.t_error is None
        ]
        not_gone = [x for x in self.servers if x.id and x.t_gone is None]
        delete_failed = [x for x in self.servers if x.delete_error]
        failures = len({id(x) for x in [*errors, *post_failed, *never_active, *not_gone]})
        boot_wall = (self.t_boot_end - self.t_boot_start) if self.t_boot_end else None
        delete_wall = (
            self.t_delete_end - self.t_delete_start
            if self.t_delete_end and self.t_delete_start
            else None
        )
        cycles = sum(1 for x in self.servers if x.t_active is not None and x.t_gone is not None)
        run_end = self.t_delete_end or self.t_boot_end
        total_wall = (run_end - self.t_boot_start) if run_end else None
        hosts: dict[str, int] = {}
        for x in self.servers:
            if x.t_active is not None:
                hosts[x.host or "?"] = hosts.get(x.host or "?", 0) + 1

        def r(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "bench": "boot_storm",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": self.args.mode,
            "shape": self.args.shape if self.args.stack else "running",
            "computes": self.args.computes if self.args.stack else None,
            "load_average": list(os.getloadavg()),
            "count": n,
            "concurrency": self.args.concurrency,
            "flavor": self.args.flavor,
            "servers": len(self.servers),
            "active": len(boot_lat),
            "failures": failures,
            "errors": len(errors),
            "post_failures": len(post_failed),
            "never_active": len(never_active),
            "not_deleted": len(not_gone),
            "delete_failures": len(delete_failed),
            "timed_out": self.timed_out or None,
            "boot_p50_s": r(percentile(boot_lat, 0.5)),
            "boot_p95_s": r(percentile(boot_lat, 0.95)),
            "boot_max_s": r(max(boot_lat) if boot_lat else None),
            "boot_wall_s": r(boot_wall),
            "boot_throughput_per_s": r(len(boot_lat) / boot_wall if boot_wall else None),
            "post_p50_s": r(percentile(post_lat, 0.5)),
            "post_p95_s": r(percentile(post_lat, 0.95)),
            "delete_wall_s": r(delete_wall),
            "delete_p50_s": r(percentile(del_lat, 0.5)),
            "delete_p95_s": r(percentile(del_lat, 0.95)),
            "delete_request_p50_s": r(percentile(del_req, 0.5)),
            "delete_request_p95_s": r(percentile(del_req, 0.95)),
            "total_wall_s": r(total_wall),
            "cycles_per_s": r(cycles / total_wall if total_wall else None),
            "poll_rounds": len(self.poll_times),
            "poll_pages": self.poll_pages,
            "poll_p50_s": r(percentile(self.poll_times, 0.5)),
            "poll_max_s": r(max(self.poll_times) if self.poll_times else None),
            "poll_errors": len(self.poll_errors),
            "hosts": dict(sorted(hosts.items())),
        }

    def report_failures(self, limit: int = 10) -> None:
        groups: dict[str, list[Server]] = {}
        for x in self.servers:
            if x.t_error is not None:
                groups.setdefault(f"ERROR: {x.fault}", []).append(x)
            if x.post_error:
                groups.setdefault(f"POST failed: {x.post_error}", []).append(x)
            if x.id and x.t_active is None and x.t_error is None:
                groups.setdefault("never reached ACTIVE or ERROR", []).append(x)
            if x.delete_error:
                groups.setdefault(f"DELETE failed: {x.delete_error}", []).append(x)
            elif x.id and x.t_gone is None:
                groups.setdefault("not gone after DELETE", []).append(x)
        for what, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            names = ", ".join(x.id or x.name for x in members[:3])
            print(f"  {len(members):4d} x {what}  (e.g. {names})")
        for err in self.poll_errors[:limit]:
            print(f"  poll error: {err}")


# -- output ---------------------------------------------------------------------
FIGURES = [
    # key, label, unit, lower is better
    ("failures", "failures", "", True),
    ("boot_p50_s", "boot p50", "s", True),
    ("boot_p95_s", "boot p95", "s", True),
    ("boot_max_s", "boot max", "s", True),
    ("boot_throughput_per_s", "boot throughput", "/s", False),
    ("post_p95_s", "POST p95", "s", True),
    ("delete_request_p95_s", "DELETE p95", "s", True),
    ("cycles_per_s", "cycles", "/s", False),
]


def cpu_per_cycle(
    before: dict[str, float],
    after: dict[str, float],
    summary: dict,
    background: dict[str, float] | None = None,
) -> dict:
    """CPU milliseconds the stack's processes spent per boot+delete cycle, by role: a
    figure the machine's other load does not change much, unlike the wall clock. With
    `background` (CPU ms per second each role spends with no request: heartbeats, periodic
    tasks, idle polling), what the run's wall time would have cost anyway is taken off."""
    cycles = summary["active"] or 1
    wall = summary["total_wall_s"] if background else 0.0
    background = background or {}
    used = {
        role: round(
            (
                (after.get(role, 0.0) - before.get(role, 0.0)) * 1000
                - background.get(role, 0.0) * wall
            )
            / cycles,
            1,
        )
        for role in sorted(set(before) | set(after))
    }
    used = {role: ms for role, ms in used.items() if ms > 0}
    used["total"] = round(sum(used.values()), 1)
    return used


def background_cpu(stack: "OwnStack", seconds: float) -> dict[str, float]:
    """CPU ms per second each role of the idle stack spends (no request is made while it
    is measured): the share of a run's CPU that its wall time costs, not its cycles."""
    before, start = stack.cpu(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = stack.cpu(), time.monotonic() - start
    rates = {
        role: round((after.get(role, 0.0) - before.get(role, 0.0)) * 1000 / elapsed, 1)
        for role in sorted(set(before) | set(after))
    }
    rates = {role: ms for role, ms in rates.items() if ms > 0}
    rates["total"] = round(sum(rates.values()), 1)
    return rates


def print_report(summary: dict) -> None:
    print()
    print(
        f"run                {summary['mode']} mode, {summary['shape']} shape, "
        f"{summary['computes'] or '?'} hosts, {summary['concurrency']} clients, "
        f"load {' '.join(f'{x:.2f}' for x in summary['load_average'])}"
    )
    print(f"servers            {summary['servers']} (requested {summary['count']})")
    print(
        f"failures           {summary['failures']} (ERROR {summary['errors']}, "
        f"POST failed {summary['post_failures']}, never ACTIVE {summary['never_active']}, "
        f"not deleted {summary['not_deleted']})"
        + (f"  TIMED OUT in {summary['timed_out']}" if summary["timed_out"] else "")
    )
    print(
        f"boot latency       p50 {fmt(summary['boot_p50_s'])}  p95 {fmt(summary['boot_p95_s'])}"
        f"  max {fmt(summary['boot_max_s'])}   (POST sent -> first seen ACTIVE)"
    )
    print(
        f"boot throughput    {fmt(summary['boot_throughput_per_s'], '/s')} "
        f"({summary['active']} ACTIVE in {fmt(summary['boot_wall_s'])})"
    )
    print(
        f"POST latency       p50 {fmt(summary['post_p50_s'], 's', 3)}  "
        f"p95 {fmt(summary['post_p95_s'], 's', 3)}"
    )
    print(
        f"DELETE latency     p50 {fmt(summary['delete_request_p50_s'], 's', 3)}  "
        f"p95 {fmt(summary['delete_request_p95_s'], 's', 3)}"
    )
    print(
        f"delete wall time   {fmt(summary['delete_wall_s'])}   "
        f"(DELETE sent -> gone: p50 {fmt(summary['delete_p50_s'])}, "
        f"p95 {fmt(summary['delete_p95_s'])})"
    )
    print(
        f"cycles/s           {fmt(summary['cycles_per_s'], '/s', 3)} "
        f"(boot+delete over {fmt(summary['total_wall_s'])})"
    )
    print(
        f"polling            {summary['poll_rounds']} rounds, {summary['poll_pages']} pages, "
        f"p50 {fmt(summary['poll_p50_s'], 's', 3)}, max {fmt(summary['poll_max_s'], 's', 3)}, "
        f"errors {summary['poll_errors']}"
    )
    if summary.get("cpu_ms_per_cycle"):
        print(
            "CPU per cycle      "
            + ", ".join(f"{role} {ms:.1f}ms" for role, ms in summary["cpu_ms_per_cycle"].items())
        )
    if summary.get("background_cpu_ms_per_s"):
        print(
            "idle stack         "
            + ", ".join(
                f"{role} {ms:.1f}ms/s" for role, ms in summary["background_cpu_ms_per_s"].items()
            )
        )
        print(
            "  net of it        "
            + ", ".join(
                f"{role} {ms:.1f}ms" for role, ms in summary["cpu_ms_per_cycle_net"].items()
            )
        )
    counts = summary["hosts"]
    if counts and len(counts) <= 10:
        print("hosts              " + ", ".join(f"{h} {n}" for h, n in counts.items()))
    elif counts:
        print(
            f"hosts              {len(counts)} used, {min(counts.values())} to "
            f"{max(counts.values())} servers each"
        )


def baseline_line(summary: dict, path: Path) -> str:
    if not path.exists():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        return f"baseline           none ({shown} does not exist; --save)"
    try:
        base = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"baseline           unreadable ({exc})"
    parts = []
    for key, label, unit, _lower in FIGURES:
        old, new = base.get(key), summary.get(key)
        if old is None:
            continue
        if new is None or key == "failures":
            parts.append(f"{label} {old}{unit}" + ("" if new is None else f" ({new - old:+d})"))
            continue
        delta = f" ({(new - old) / old * 100:+.0f}%)" if old else ""
        parts.append(f"{label} {old:.2f}{unit}{delta}")
    same = all(
        base.get(key) == summary.get(key) for key in ("count", "concurrency", "mode", "shape")
    )
    note = "" if same else "  [NOT comparable: different count/concurrency/mode/shape]"
    return (
        f"baseline           {base.get('timestamp', '?')} {base.get('mode', 'waves')} "
        f"{base.get('shape', 'dev')} count {base.get('count')} "
        f"c{base.get('concurrency')}: " + ", ".join(parts) + note
    )


# -- main ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=1000, help="servers to boot (default 1000)")
    p.add_argument(
        "--mode",
        choices=["cycle", "waves"],
        default="cycle",
        help="cycle: each client boots, waits, deletes, waits, again (default); "
        "waves: all boots, then all deletes",
    )
    p.add_argument("--concurrency", type=int, default=20, help="client threads (default 20)")
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds for boot+delete (default 600)"
    )
    p.add_argument(
        "--stack",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start a private stack and stop it afterwards (default, unless --url)",
    )
    p.add_argument("--url", help="base URL of a running stack, e.g. http://127.0.0.1:8000")
    p.add_argument("--cloud-config", help="clouds.yaml of the running stack")
    p.add_argument("--cloud", default="stratus", help="cloud in clouds.yaml (default stratus)")
    p.add_argument("--flavor", default="1", help="flavor id (default 1, m1.tiny)")
    p.add_argument("--image", default="tiny", help="image name (default tiny)")
    p.add_argument(
        "--poll-interval",
        type=float,
        default=0.1,
        help="least seconds between list rounds (more when a round is slow; default 0.1)",
    )
    p.add_argument("--page-size", type=int, default=500, help="servers per list page (500)")
    p.add_argument("--save", action="store_true", help="save the figures as the baseline")
    p.add_argument(
        "--results",
        type=Path,
        help=f"baseline/results file (default {RESULTS.name}, {RESULTS_DEV.name} for --shape dev)",
    )
    g = p.add_argument_group("own stack")
    g.add_argument("--var-dir", help="var dir for the own stack (kept); default a temp dir")
    g.add_argument("--keep-var", action="store_true", help="keep the temp var dir and its logs")
    g.add_argument(
        "--shape",
        choices=["production", "dev"],
        default="production",
        help="production: PostgreSQL (DATABASE_URL or this machine's) and gunicorn "
        "(default); dev: the embedded defaults (SQLite, runserver)",
    )
    g.add_argument(
        "--postgres",
        choices=["auto", "private"],
        default="auto",
        help="production shape: DATABASE_URL or this machine's PostgreSQL (auto), or a "
        "private cluster with pg_stat_statements (private)",
    )
    g.add_argument("--computes", type=int, default=100, help="simulated hosts (default 100)")
    g.add_argument("--heartbeat", type=float, default=10.0, help="hosts' heartbeat seconds")
    g.add_argument(
        "--idle-seconds",
        type=float,
        default=20.0,
        help="measure the idle stack's CPU this long before the run, and report the CPU "
        "per cycle net of it too (0: do not; default 20)",
    )
    g.add_argument("--host-cpus", type=int, default=32)
    g.add_argument("--host-memory-mb", type=int, default=65536)
    g.add_argument("--host-disk-gb", type=int, default=1000)
    args = p.parse_args(argv)
    if args.results is None:
        args.results = RESULTS_DEV if args.shape == "dev" else RESULTS
    if args.stack is None:
        args.stack = not (args.url or args.cloud_config)
    if args.stack and args.url:
        p.error("--url points at a running stack; it cannot go with --stack")
    if args.count < 1 or args.concurrency < 1 or args.page_size < 1:
        p.error("--count, --concurrency and --page-size must be at least 1")
    return args


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    stack = OwnStack(args) if args.stack else None
    run: Run | None = None
    failed = True
    summary: dict | None = None
    try:
        if stack:
            startup = stack.start()
            log(f"stack up in {startup:.1f}s at {stack.base_url}")
            creds = read_cloud(stack.cloud_config, args.cloud)
            base = stack.base_url
        else:
            config = Path(args.cloud_config or ROOT / "var" / "clouds.yaml")
            creds = read_cloud(config, args.cloud)
            base = args.url or creds.auth_url.removesuffix("/v3").removesuffix("/identity")
        api = Api(base, creds, identity_url=creds.auth_url if not stack else None)
        api.authenticate()
        if stack:
            api.quotas_unlimited()
        image_id = api.image_id(args.image)
        background = {}
        if stack and args.idle_seconds > 0:
            log(f"measuring the idle stack's CPU for {args.idle_seconds:.0f}s")
            background = background_cpu(stack, args.idle_seconds)
        cpu_before = stack.cpu() if stack else {}
        prefix = f"storm-{secrets.token_hex(3)}-"
        run = Run(args=args, api=api, prefix=prefix, deadline=time.monotonic() + args.timeout)
        log(f"run {prefix}: {args.count} servers, flavor {args.flavor}, image {image_id}")
        if args.mode == "cycle":
            run.cycles(image_id)
        else:
            run.boot(image_id)
            run.delete()
        summary = run.summary()
        if stack:
            cpu_after = stack.cpu()
            summary["cpu_ms_per_cycle"] = cpu_per_cycle(cpu_before, cpu_after, summary)
        if background:
            summary["background_cpu_ms_per_s"] = background
            summary["cpu_ms_per_cycle_net"] = cpu_per_cycle(
                cpu_before, cpu_after, summary, background
            )
        print_report(summary)
        if summary["failures"] or summary["timed_out"] or summary["delete_failures"]:
            print("failures:")
            run.report_failures()
        else:
            failed = False
        print(baseline_line(summary, args.results))
        if args.save:
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(summary, indent=2) + "\n")
            log(f"saved {args.results}")
        print(json.dumps(summary, separators=(",", ":")))
        return 1 if failed else 0
    except RunAborted as exc:
        log(f"aborted: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        if run is not None and stack is None and run.by_id:
            # On someone else's stack, do not leave our servers behind.
            try:
                run.stop.clear()
                run.deadline = time.monotonic()
                run.delete()
            except KeyboardInterrupt:
                log(f"cleanup interrupted; servers named {run.prefix}* may be left")
        return 130
    finally:
        if stack:
            stack.stop(keep=args.keep_var or failed)


if __name__ == "__main__":
    sys.exit(main())
