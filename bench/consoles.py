#!/usr/bin/env python
"""Consoles: the time from `openstack console url show --novnc` to the first frame of a
real QEMU guest's screen in a browser, and how many sessions the console proxy holds at
once.

    flock /tmp/qemu.lock .venv/bin/python bench/consoles.py
    flock /tmp/qemu.lock .venv/bin/python bench/consoles.py --rounds 5 --guests 2 --save

It starts a private stack with one QEMU host (deploy/stack.py --hypervisor qemu, free
ports, a temp var dir; run it under the QEMU lock, as the QEMU tests are) and boots
`--guests` guests (image `guest`, m1.tiny), then:

- first frame, `--rounds` times: the `openstack` CLI asks for the noVNC URL, headless
  Chromium (Debian's, through chromedriver) opens it, and the clock stops when noVNC
  says "Connected" and its canvas has the guest's screen drawn (pixels lit);
- sessions at once: websockets through the proxy to the guests' VNC servers, one token
  each (tokens are single-use), each taken through the RFB handshake to the server's
  ServerInit and held, round-robin over the guests, until one fails or
  `--max-sessions`; then every session held is asked for a frame update, and the
  proxy's memory (PSS of its processes: websockify forks one per session) is read.
  The same for serial consoles, each session proven by a command echoed back.

It prints each figure, what stopped the ramp (the limit), and a one-line JSON summary
last; `--save` keeps it in bench/results/consoles.json.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import websocket

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from boot_storm import HTTP_TIMEOUT, Api, OwnStack, RunAborted, free_port, log, read_cloud  # noqa: E402

from tests.e2e.test_qemu_consoles import BLOCK, CANVAS_LIT, CHROMIUM_FLAGS, LIT  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "consoles.json"
BOOT_LINE = "booted (boot "


class QemuStack(OwnStack):
    """boot_storm's private stack, with one QEMU host and the console proxy on a port
    of its own."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.console_port = free_port()

    def start(self) -> float:
        log(f"starting a QEMU stack in {self.var} on port {self.port}")
        started = time.monotonic()
        self.started = True
        try:
            self._stack(
                "start",
                "--port",
                str(self.port),
                "--console-port",
                str(self.console_port),
                "--flower-port",
                "0",
                "--redis",
                "private",
                "--hypervisor",
                "qemu",
            )
        except subprocess.CalledProcessError as exc:
            raise RunAborted(f"stack failed to start; see {self.log_path}") from exc
        return time.monotonic() - started

    def proxy_pss_kb(self) -> int:
        """The console proxy's memory: the PSS of its process and of the processes it
        forked (one per session)."""
        port = f"--port {self.console_port}"
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if "cloud.consoles.proxy" not in cmdline or port not in cmdline:
                    continue
                for line in (entry / "smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total


# -- the guests -------------------------------------------------------------------
def boot_guest(api: Api, name: str, timeout: float) -> str:
    body = {
        "server": {
            "name": name,
            "imageRef": api.image_id("guest"),
            "flavorRef": "1",
            "networks": "none",
        }
    }
    r = api.session.post(f"{api.compute}/servers", json=body, timeout=HTTP_TIMEOUT)
    if r.status_code != 202:
        raise RunAborted(f"server create: HTTP {r.status_code} {r.text[:300]}")
    server_id = r.json()["server"]["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api.session.post(
            f"{api.compute}/servers/{server_id}/action",
            json={"os-getConsoleOutput": {"length": 50}},
            timeout=HTTP_TIMEOUT,
        )
        if r.status_code == 200 and BOOT_LINE in r.json()["output"]:
            return server_id
        server = api.session.get(f"{api.compute}/servers/{server_id}", timeout=HTTP_TIMEOUT)
        if server.json()["server"]["status"] == "ERROR":
            raise RunAborted(f"{name}: ERROR {server.json()['server'].get('fault')}")
        time.sleep(0.5)
    raise RunAborted(f"{name} printed no boot line in {timeout:.0f}s")


def delete_servers(api: Api, timeout: float = 180) -> None:
    """Delete every server of the run and wait until they are gone: stopping the stack
    leaves libvirt's domains defined, and the next QEMU stack on this machine would find
    its first guest's name taken."""
    servers = api.session.get(f"{api.compute}/servers", timeout=HTTP_TIMEOUT).json()["servers"]
    for server in servers:
        api.session.delete(f"{api.compute}/servers/{server['id']}", timeout=HTTP_TIMEOUT)
    deadline = time.monotonic() + timeout
    while api.session.get(f"{api.compute}/servers", timeout=HTTP_TIMEOUT).json()["servers"]:
        if time.monotonic() > deadline:
            log(f"servers still there after {timeout:.0f}s: remove their domains by hand")
            return
        time.sleep(0.5)


def console_token(api: Api, server_id: str, protocol: str, kind: str) -> str:
    r = api.session.post(
        f"{api.compute}/servers/{server_id}/remote-consoles",
        json={"remote_console": {"protocol": protocol, "type": kind}},
        headers={"OpenStack-API-Version": "compute 2.6"},
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code != 200:
        raise RunAborted(f"remote console: HTTP {r.status_code} {r.text[:300]}")
    query = parse_qs(urlsplit(r.json()["remote_console"]["url"]).query)
    if "path" in query:  # noVNC's URL carries the websocket's path, token and all
        query = parse_qs(urlsplit(unquote(query["path"][0])).query)
    return query["token"][0]


# -- the first frame -------------------------------------------------------------------
def headless_chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        raise RunAborted("Debian's chromium and chromium-driver: deploy/bootstrap.sh --dev")
    os.environ["SE_OFFLINE"] = "true"
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def _until(what: str, probe, timeout: float):
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise RunAborted(f"timed out after {timeout:.0f}s: {what}")
        time.sleep(0.05)
    return value


def first_frame(stack: QemuStack, browser, server_id: str) -> tuple[float, float]:
    """(seconds from the CLI's start to the first frame, of which the browser's)."""
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(stack.cloud_config), OS_CLOUD="stratus")
    cli = str(Path(sys.executable).parent / "openstack")
    started = time.monotonic()
    shown = subprocess.run(
        [cli, "console", "url", "show", "--novnc", server_id, "-f", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if shown.returncode != 0:
        raise RunAborted(f"openstack console url show: {shown.stderr}")
    opened = time.monotonic()
    browser.get(json.loads(shown.stdout)["url"])
    _until(
        "noVNC connects",
        lambda: browser.find_element("id", "status").text.startswith("Connected"),
        60,
    )
    _until(
        "a frame of the guest's screen",
        lambda: (drawn := browser.execute_script(CANVAS_LIT, BLOCK, LIT)) and drawn[2] > 0,
        60,
    )
    done = time.monotonic()
    browser.get("about:blank")
    return done - started, done - opened


# -- sessions held at once ---------------------------------------------------------------
class Session:
    """One websocket through the proxy, read as the byte stream it carries."""

    def __init__(self, url: str, timeout: float) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout, subprotocols=["binary"])
        self.buffer = b""

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self.ws.recv()
            if not data:
                raise ConnectionError("closed by the proxy")
            self.buffer += data if isinstance(data, bytes) else data.encode()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_until(self, marker: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{marker!r} never came back")
            try:
                self.buffer += self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue

    def close(self) -> None:
        self.ws.close()


def vnc_session(url: str, timeout: float) -> Session:
    """A VNC session through the RFB handshake (no authentication: the token was it) to
    the server's ServerInit, shared with the other clients."""
    session = Session(url, timeout)
    version = session.read(12)
    if not version.startswith(b"RFB "):
        raise ConnectionError(f"not a VNC server: {version!r}")
    session.ws.send_binary(b"RFB 003.008\n")
    (count,) = session.read(1)
    types = session.read(count)
    if 1 not in types:
        raise ConnectionError(f"no 'None' security type: {list(types)}")
    session.ws.send_binary(b"\x01")
    if session.read(4) != b"\0\0\0\0":
        raise ConnectionError("security handshake failed")
    session.ws.send_binary(b"\x01")  # ClientInit: shared
    _w, _h = struct.unpack(">HH", session.read(4))
    session.read(16)
    (name_length,) = struct.unpack(">I", session.read(4))
    session.read(name_length)
    return session


def vnc_alive(session: Session) -> bool:
    """Whether the session still gets a frame update when it asks for one."""
    try:
        session.buffer = b""
        session.ws.send_binary(struct.pack(">BBHHHH", 3, 0, 0, 0, 8, 8))
        return session.read(1) == b"\x00"
    except (OSError, ConnectionError, websocket.WebSocketException):
        return False


def serial_session(url: str, timeout: float, index: int) -> Session:
    """A serial session, proven by a command the guest's shell echoes back."""
    session = Session(url, timeout)
    session.ws.send_binary(f"echo bench-$(({index}+1000))\n".encode())
    session.read_until(f"bench-{index + 1000}".encode(), timeout)
    return session


def ramp(stack: QemuStack, api: Api, guests: list[str], kind: str, args) -> dict:
    """Open sessions of `kind` (vnc, serial) until one fails or the maximum."""
    protocol, console_type, path = {
        "vnc": ("vnc", "novnc", "/"),
        "serial": ("serial", "serial", "/serial"),
    }[kind]
    base = f"ws://127.0.0.1:{stack.console_port}{path}"
    baseline_kb = stack.proxy_pss_kb()
    held: list[Session] = []
    limit = f"--max-sessions {args.max_sessions} reached"
    started = time.monotonic()
    try:
        for index in range(args.max_sessions):
            token = console_token(api, guests[index % len(guests)], protocol, console_type)
            try:
                if kind == "vnc":
                    held.append(vnc_session(f"{base}?token={token}", args.session_timeout))
                else:
                    held.append(
                        serial_session(f"{base}?token={token}", args.session_timeout, index)
                    )
            except (OSError, ConnectionError, TimeoutError, websocket.WebSocketException) as exc:
                limit = f"session {index + 1} failed: {type(exc).__name__}: {exc}"
                break
        opened_s = time.monotonic() - started
        pss_kb = stack.proxy_pss_kb()
        alive = sum(vnc_alive(s) for s in held) if kind == "vnc" else len(held)
    finally:
        for session in held:
            session.close()
    return {
        "kind": kind,
        "guests": len(guests),
        "held": len(held),
        "alive_at_end": alive,
        "limit": limit,
        "open_seconds": round(opened_s, 2),
        "proxy_pss_mb": round(pss_kb / 1024, 1),
        "pss_per_session_mb": round((pss_kb - baseline_kb) / 1024 / len(held), 2) if held else None,
    }


# -- the run ----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="first-frame measurements")
    parser.add_argument("--guests", type=int, default=1, help="guests to spread sessions over")
    parser.add_argument("--max-sessions", type=int, default=100, help="per console kind")
    parser.add_argument("--session-timeout", type=float, default=10.0, help="per session (s)")
    parser.add_argument("--boot-timeout", type=float, default=300.0, help="per guest (s)")
    parser.add_argument("--save", action="store_true", help="keep bench/results/consoles.json")
    parser.add_argument("--keep-var", action="store_true")
    parser.add_argument("--var-dir", default="")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = QemuStack(args)
    failed = True
    guests: list[str] = []
    api = None
    try:
        log(f"stack up in {stack.start():.1f}s at {stack.base_url}")
        api = Api(stack.base_url, read_cloud(stack.cloud_config, "stratus"))
        api.authenticate()
        for index in range(args.guests):
            guests.append(boot_guest(api, f"bench-console-{index}", args.boot_timeout))
        log(f"{len(guests)} guest(s) booted")
        browser = headless_chromium()
        try:
            frames = [first_frame(stack, browser, guests[0]) for _ in range(args.rounds)]
        finally:
            browser.quit()
        for index, (total, in_browser) in enumerate(frames, 1):
            log(f"round {index}: url show to first frame {total:.2f}s (browser {in_browser:.2f}s)")
        sessions = [ramp(stack, api, guests, kind, args) for kind in ("vnc", "serial")]
        for result in sessions:
            log(
                f"{result['kind']}: {result['held']} sessions held at once over "
                f"{result['guests']} guest(s), {result['alive_at_end']} alive at the end; "
                f"stopped by: {result['limit']}; proxy PSS {result['proxy_pss_mb']} MB "
                f"({result['pss_per_session_mb']} MB a session)"
            )
        summary = {
            "first_frame_s": {
                "p50": round(statistics.median(t for t, _ in frames), 2),
                "max": round(max(t for t, _ in frames), 2),
                "browser_p50": round(statistics.median(b for _, b in frames), 2),
            },
            "sessions": sessions,
            "rounds": args.rounds,
            "host": socket.gethostname(),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(summary))
        if args.save:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
        failed = False
        return 0
    except RunAborted as exc:
        log(f"aborted: {exc}")
        return 1
    finally:
        if api is not None:
            delete_servers(api)
        stack.stop(keep=args.keep_var or failed)


if __name__ == "__main__":
    sys.exit(main())
