#!/usr/bin/env python
"""Boot storm: boot N servers through the compute API, wait for ACTIVE, delete them all.

    .venv/bin/python bench/boot_storm.py                      # own stack, 200 servers
    .venv/bin/python bench/boot_storm.py --count 50 --save    # and keep the figures
    .venv/bin/python bench/boot_storm.py --url http://127.0.0.1:8000 \
        --cloud-config var/clouds.yaml                        # an already running stack

Servers are POSTed by a bounded pool of client threads (one requests.Session
each) while the main thread polls `GET /servers/detail` page by page
(filtered on this run's name prefix) and notes when each server is first
seen ACTIVE or ERROR. Then every server is DELETEd the same way and the list
is polled until none is left. Exit status: 0 when every server booted and
went away in time, 1 otherwise, 2 when the run could not start, 130 on Ctrl-C.
"""

import argparse
import json
import math
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


# -- the stack under test ------------------------------------------------------
class OwnStack:
    """A private stack in a temp var dir on free ports, started and stopped by us."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = Path(args.var_dir or tempfile.mkdtemp(prefix="stratus-boot-storm-"))
        self.port = free_port()
        self.started = False

    def _stack(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [venv_python(), str(ROOT / "deploy" / "stack.py"), *argv, "--var-dir", str(self.var)],
            cwd=ROOT,
            check=check,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> float:
        a = self.args
        log(f"starting a stack in {self.var} on port {self.port}")
        t0 = time.monotonic()
        self.started = True  # from here on, always try to stop it
        try:
            self._stack(
                "start",
                "--port",
                str(self.port),
                "--flower-port",
                "0",
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
            )
        except subprocess.CalledProcessError as exc:
            raise RunAborted(f"stack failed to start; see {self.log_path}") from exc
        return time.monotonic() - t0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
    t_gone: float | None = None
    post_error: str = ""
    delete_error: str = ""


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
        if r.status_code == 404:
            server.t_gone = server.t_gone or time.monotonic()
        elif r.status_code != 204:
            server.delete_error = f"HTTP {r.status_code}: {r.text[:300]}"

    # -- polling ------------------------------------------------------------
    def poll(self) -> list[dict] | None:
        t0 = time.monotonic()
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
                elif status == "ERROR" and server.t_error is None:
                    server.t_error = seen
                    fault = item.get("fault") or {}
                    server.fault = fault.get("message") or "(no fault message)"

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
            # Back off so that listing keeps the API busy a fifth of the time at most.
            interval = max(self.args.poll_interval, 5 * (now - start))
            time.sleep(max(0.0, min(interval - (now - start), deadline - now)))

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
        return f"DELETE sent {sent}/{len(targets)}, gone {gone}/{len(targets)}"

    # -- phases ---------------------------------------------------------------
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
            pool.shutdown(wait=True, cancel_futures=True)
            self.stop.clear()
        for x in self.servers:
            if not x.id and not x.post_error:
                x.post_error = "not sent: run stopped or timed out"
        ends = [x.t_active for x in self.servers if x.t_active is not None]
        self.t_boot_end = max(ends) if ends else None
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
    ("delete_wall_s", "delete wall", "s", True),
    ("cycles_per_s", "cycles", "/s", False),
]


def print_report(summary: dict) -> None:
    print()
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
        f"delete wall time   {fmt(summary['delete_wall_s'])}   "
        f"(per server p50 {fmt(summary['delete_p50_s'])}, p95 {fmt(summary['delete_p95_s'])})"
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
    if summary["hosts"]:
        print("hosts              " + ", ".join(f"{h} {n}" for h, n in summary["hosts"].items()))


def baseline_line(summary: dict, path: Path) -> str:
    if not path.exists():
        return f"baseline           none ({path.relative_to(ROOT)} does not exist; --save)"
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
    same = base.get("count") == summary["count"] and base.get("concurrency") == summary.get(
        "concurrency"
    )
    note = "" if same else "  [NOT comparable: different count/concurrency]"
    return (
        f"baseline           {base.get('timestamp', '?')} count {base.get('count')} "
        f"c{base.get('concurrency')}: " + ", ".join(parts) + note
    )


# -- main ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=200, help="servers to boot (default 200)")
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
        default=0.5,
        help="least seconds between list rounds (more when a round is slow; default 0.5)",
    )
    p.add_argument("--page-size", type=int, default=500, help="servers per list page (500)")
    p.add_argument("--save", action="store_true", help=f"save the figures to {RESULTS}")
    p.add_argument("--results", type=Path, default=RESULTS, help="baseline/results file")
    g = p.add_argument_group("own stack")
    g.add_argument("--var-dir", help="var dir for the own stack (kept); default a temp dir")
    g.add_argument("--keep-var", action="store_true", help="keep the temp var dir and its logs")
    g.add_argument("--computes", type=int, default=3)
    g.add_argument("--host-cpus", type=int, default=32)
    g.add_argument("--host-memory-mb", type=int, default=65536)
    g.add_argument("--host-disk-gb", type=int, default=1000)
    args = p.parse_args(argv)
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
        image_id = api.image_id(args.image)
        prefix = f"storm-{secrets.token_hex(3)}-"
        run = Run(args=args, api=api, prefix=prefix, deadline=time.monotonic() + args.timeout)
        log(f"run {prefix}: {args.count} servers, flavor {args.flavor}, image {image_id}")
        run.boot(image_id)
        run.delete()
        summary = run.summary()
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
