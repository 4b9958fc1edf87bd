"""A boot storm over HTTP, as clients do it, with every answer the API gave noted.

Servers are POSTed at a steady rate by a pool of client threads (one requests.Session
each). A 503 is retried after its Retry-After, as openstacksdk does; any other error
is the server's failure. A poller lists this run's servers and notes when each first
settled (ACTIVE or ERROR with no task_state); a prober reads the API all along, so
the outages are seen from outside. Every response of every thread is in `answers`.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from tests.helpers import auth_body

MICROVERSION = "compute 2.96"
HTTP_TIMEOUT = 60.0
RETRY_AFTER_CAP = 5.0


@dataclass(frozen=True)
class Answer:
    at: float  # monotonic
    method: str
    what: str
    status: int  # 0: no answer (connection refused, timeout)
    retry_after: str | None
    seconds: float


@dataclass
class Server:
    name: str
    id: str = ""
    t_post: float = 0.0  # the first attempt
    t_accepted: float | None = None
    attempts: int = 0
    post_error: str = ""
    status: str = ""
    task_state: str | None = None
    fault: str = ""
    host: str = ""
    t_settled: float | None = None


class Api:
    """A token-holding client: one session per thread, every answer recorded."""

    def __init__(self, base: str, username: str, password: str, project: str) -> None:
        self.base = base
        self._local = threading.local()
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        body = auth_body(username, project, password)
        response = requests.post(f"{base}/identity/v3/auth/tokens", json=body, timeout=30)
        response.raise_for_status()
        self.token = response.headers["X-Subject-Token"]
        self.project_id = response.json()["token"]["project"]["id"]

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {"X-Auth-Token": self.token, "OpenStack-API-Version": MICROVERSION}
            )
            self._local.session = session
        return session

    def call(self, method: str, path: str, what: str = "", **kwargs) -> requests.Response | None:
        sent = time.monotonic()
        try:
            response = self.session.request(
                method, f"{self.base}{path}", timeout=HTTP_TIMEOUT, **kwargs
            )
        except requests.RequestException:
            self._note(Answer(sent, method, what or path, 0, None, time.monotonic() - sent))
            return None
        self._note(
            Answer(
                sent,
                method,
                what or path,
                response.status_code,
                response.headers.get("Retry-After"),
                time.monotonic() - sent,
            )
        )
        return response

    def _note(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)


@dataclass
class Storm:
    api: Api
    prefix: str
    count: int
    rate: float  # servers POSTed per second
    deadline: float  # monotonic: nothing is retried past it
    servers: list[Server] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    t_start: float = 0.0

    def boot(self, server: Server) -> None:
        server.t_post = time.monotonic()
        body = {
            "server": {
                "name": server.name,
                "imageRef": TINY_IMAGE_ID,
                "flavorRef": "1",
                "networks": "none",
            }
        }
        while time.monotonic() < self.deadline:
            server.attempts += 1
            response = self.api.call("POST", "/compute/v2.1/servers", "server create", json=body)
            if response is not None and response.status_code == 202:
                server.id = response.json()["server"]["id"]
                server.t_accepted = time.monotonic()
                return
            if response is None or response.status_code != 503:
                status = response.status_code if response is not None else "no answer"
                server.post_error = f"{status}: {response.text[:300] if response else ''}"
                return
            time.sleep(min(float(response.headers.get("Retry-After", 1)), RETRY_AFTER_CAP))
        server.post_error = "still 503 at the deadline"

    def run_posts(self) -> None:
        """POST every server at the storm's rate (blocks until all are answered)."""
        self.t_start = time.monotonic()
        self.servers = [Server(f"{self.prefix}{i:03d}") for i in range(self.count)]
        with ThreadPoolExecutor(max_workers=12, thread_name_prefix="storm") as pool:
            for index, server in enumerate(self.servers):
                delay = self.t_start + index / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self.boot, server)

    def listed(self) -> list[dict] | None:
        servers: list[dict] = []
        marker = None
        while True:
            params = {"name": f"^{self.prefix}", "limit": 500}
            if marker:
                params["marker"] = marker
            response = self.api.call(
                "GET", "/compute/v2.1/servers/detail", "server list", params=params
            )
            if response is None or response.status_code != 200:
                return None
            page = response.json()["servers"]
            servers += page
            if len(page) < 500:
                return servers
            marker = page[-1]["id"]

    def poll(self) -> list[dict] | None:
        """One listing; notes when each server first settled."""
        listed = self.listed()
        if listed is None:
            return None
        now = time.monotonic()
        by_id = {s.id: s for s in self.servers if s.id}
        for item in listed:
            server = by_id.get(item["id"])
            if server is None:
                continue
            server.status = item["status"]
            server.task_state = item.get("OS-EXT-STS:task_state")
            server.host = item.get("OS-EXT-SRV-ATTR:host") or ""
            server.fault = (item.get("fault") or {}).get("message", "")
            settled = server.status in ("ACTIVE", "ERROR") and server.task_state is None
            if settled and server.t_settled is None:
                server.t_settled = now
            elif not settled:
                server.t_settled = None
        return listed

    def settled(self) -> bool:
        accepted = [s for s in self.servers if s.id]
        return all(s.t_settled is not None for s in accepted) and all(
            s.id or s.post_error for s in self.servers
        )

    def probe(self, interval: float = 0.25) -> None:
        """Read the API until stopped: what a user saw during each outage."""
        while not self.stop.wait(interval):
            self.api.call("GET", "/compute/v2.1/flavors/detail", "probe")
