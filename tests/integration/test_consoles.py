"""Consoles end to end on the test hypervisor: the simulated console log through the API,
remote consoles refused where the hypervisor has no graphics, and console tokens through
the real console proxy process (cloud/consoles/proxy.py).

libvirt's test hypervisor runs no guest, so it has no VNC, SPICE or serial server to
reach. For the token tests a guest's consoles are real TCP servers of this test (each
answers with a banner naming the console it is), recorded as a QEMU host reports them
(the conductor's cloud.conductor.consoles, with the outcome of an action); the API
issues the tokens, and the proxy, a separate process on the test database, checks them
and relays a websocket to the port the token names. Real QEMU guests, noVNC in Chromium
and the serial console are tests/e2e/test_qemu_consoles.py.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import websocket
from rest_framework.test import APIClient

from cloud.conductor.consoles import consoles_reported
from cloud.consoles.models import ConsoleAuthToken
from cloud.instances.models import Instance
from tests.conftest import free_port
from tests.helpers import create_server, show, wait_status
from tests.integration.conftest import _database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
V21 = "/compute/v2.1"


def _at(client: APIClient, version: str) -> APIClient:
    other = APIClient()
    other.credentials(
        HTTP_X_AUTH_TOKEN=client._credentials["HTTP_X_AUTH_TOKEN"],
        HTTP_OPENSTACK_API_VERSION=f"compute {version}",
    )
    return other


def _act(client: APIClient, server_id: str, body: dict):
    return client.post(f"{V21}/servers/{server_id}/action", body, format="json", HTTP_ACCEPT="")


def _remote(client: APIClient, server_id: str, protocol: str, kind: str):
    return client.post(
        f"{V21}/servers/{server_id}/remote-consoles",
        {"remote_console": {"protocol": protocol, "type": kind}},
        format="json",
    )


def _active(client: APIClient, name: str) -> dict:
    server = wait_status(client, create_server(client, name)["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    return server


def _settled(client: APIClient, server_id: str, status: str) -> dict:
    wait_for(
        lambda: (
            (s := show(client, server_id))
            and s["status"] == status
            and not s["OS-EXT-STS:task_state"]
        ),
        30,
        message=f"{server_id} settled in {status}",
    )
    return show(client, server_id)


def _console_log(client: APIClient, server_id: str, length=None) -> str:
    response = _act(client, server_id, {"os-getConsoleOutput": {"length": length}})
    assert response.status_code == 200, response.content
    return response.json()["output"]


# -- the simulated console log ---------------------------------------------------------


def test_the_simulated_hosts_keep_a_console_log_of_each_power_transition(member_client):
    server = _active(member_client, "console-log")
    uuid = server["id"]
    for action, status in (("os-stop", "SHUTOFF"), ("os-start", "ACTIVE"), ("pause", "PAUSED")):
        assert _act(member_client, uuid, {action: None}).status_code == 202
        _settled(member_client, uuid, status)
    expected = ["defined", "started", "stopped", "started", "paused"]
    wait_for(
        lambda: len(_console_log(member_client, uuid).splitlines()) >= len(expected),
        15,
        message="five lines in the console log",
    )
    lines = _console_log(member_client, uuid).splitlines()
    assert [line.split(": ", 1)[1].split(" (")[0] for line in lines] == expected
    # each line names the guest and its id
    assert all(f"({uuid}): " in line for line in lines)
    assert _console_log(member_client, uuid, 2).splitlines() == lines[-2:]
    assert _console_log(member_client, uuid, "1").splitlines() == lines[-1:]


def test_a_console_log_the_host_cannot_read_names_no_host_path(cloud, member_client):
    server = _active(member_client, "console-gone")
    uuid = server["id"]
    host = Instance.objects.get(uuid=uuid).host
    # The guest's files vanish behind the host's back.
    shutil.rmtree(cloud.logdir / "instances" / host / uuid)
    response = _act(member_client, uuid, {"os-getConsoleOutput": {"length": 1}})
    assert response.status_code == 409, response.content
    message = response.json()["conflictingRequest"]["message"]
    assert message == "Unable to get console output: its host cannot read the guest's console log."
    assert str(cloud.logdir) not in message and "test://" not in message


# -- remote consoles where there are none -------------------------------------------------


@pytest.mark.parametrize(
    "protocol,kind", [("vnc", "novnc"), ("spice", "spice-html5"), ("serial", "serial")]
)
def test_the_test_hypervisor_has_no_remote_console(member_client, protocol, kind):
    server = _active(member_client, f"no-{protocol}")
    response = _remote(member_client, server["id"], protocol, kind)
    assert response.status_code == 400, response.content
    assert response.json()["badRequest"]["message"] == f"Unavailable console type {kind}."
    assert not ConsoleAuthToken.objects.exists()


def test_remote_console_bodies_and_microversions(member_client):
    server = _active(member_client, "console-bodies")
    uuid = server["id"]
    url = f"{V21}/servers/{uuid}/remote-consoles"
    bad = [
        {"remote_console": {"protocol": "vnc"}},
        {"remote_console": {"protocol": "vnc", "type": "novnc", "port": 22}},
        {"remote_console": {"protocol": "telnet", "type": "novnc"}},
        {"remote_console": {"protocol": "vnc", "type": "webmks"}},  # a 2.8 type at 2.6
        {"remote_console": "vnc"},
        {},
    ]
    for body in bad:
        response = _at(member_client, "2.6").post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
    # A protocol with another protocol's type is unavailable (Nova's answer).
    response = _remote(member_client, uuid, "vnc", "spice-html5")
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Unavailable console type spice-html5."
    # remote-consoles is 2.6+; the actions it replaced end at 2.5.
    response = _at(member_client, "2.5").post(
        url, {"remote_console": {"protocol": "vnc", "type": "novnc"}}, format="json"
    )
    assert response.status_code == 404
    response = _act(_at(member_client, "2.6"), uuid, {"os-getVNCConsole": {"type": "novnc"}})
    assert response.status_code == 404
    for action, kind in (("os-getVNCConsole", "spice-html5"), ("os-getSerialConsole", "novnc")):
        response = _act(_at(member_client, "2.1"), uuid, {action: {"type": kind}})
        assert response.status_code == 400, response.content
    response = _act(_at(member_client, "2.1"), uuid, {"os-getSPICEConsole": {}})
    assert response.status_code == 400


def test_another_projects_server_has_no_console_for_me(member_client, admin_client):
    server = _active(admin_client, "admins-own")
    response = _remote(member_client, server["id"], "vnc", "novnc")
    assert response.status_code == 404


# -- console tokens, through the console proxy --------------------------------------------


class GuestConsoles:
    """Stand-ins for a guest's VNC, SPICE and serial servers: TCP servers on loopback
    that send `<name>-<kind>` to whoever connects, then echo what they get."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []

    def listen(self, name: str) -> dict:
        endpoints = {}
        for kind in ("vnc", "spice", "serial"):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(8)
            self.sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock, f"{name}-{kind}"), daemon=True).start()
            endpoints[kind] = {"host": "127.0.0.1", "port": sock.getsockname()[1]}
        return endpoints

    @staticmethod
    def _serve(sock: socket.socket, banner: str) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(banner.encode())
                try:
                    while data := conn.recv(4096):
                        conn.sendall(data)
                except OSError:
                    pass

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def guest_consoles():
    consoles = GuestConsoles()
    yield consoles
    consoles.close()


@pytest.fixture(scope="module")
def proxy_port(workers):
    """The console proxy process on the test database."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=_database_url(),
        DB_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    log = open(workers.logdir / "console-proxy.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud.consoles.proxy", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, 30, message="the console proxy listens")
    yield port
    proc.terminate()
    proc.wait(15)


@pytest.fixture
def consoles_cloud(settings, proxy_port):
    """The API hands out URLs of the proxy under test."""
    base = f"127.0.0.1:{proxy_port}"
    settings.CONSOLE_NOVNC_BASE_URL = f"http://{base}/vnc_lite.html"
    settings.CONSOLE_SPICE_BASE_URL = f"http://{base}/spice/spice_auto.html"
    settings.CONSOLE_SERIAL_BASE_URL = f"ws://{base}/serial"
    return base


def _with_consoles(client, guest_consoles, name: str) -> tuple[str, dict]:
    """An active server whose host reported consoles (as a QEMU host's outcome does)."""
    server = _active(client, name)
    instance = Instance.objects.get(uuid=server["id"])
    endpoints = guest_consoles.listen(name)
    consoles_reported(instance_uuid=server["id"], host=instance.host, consoles=endpoints)
    return server["id"], endpoints


def _token(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if "path" in query:  # noVNC: the websocket path carries it
        return parse_qs(urlsplit(unquote(query["path"][0])).query)["token"][0]
    return query["token"][0]


def _ws_url(base: str, token: str, path: str = "/") -> str:
    return f"ws://{base}{path}?token={token}"


def _open(url: str, origin: str | None = None, **options) -> websocket.WebSocket:
    return websocket.create_connection(
        url,
        timeout=10,
        subprotocols=["binary"],
        origin=origin,
        suppress_origin=origin is None,
        **options,
    )


def _refused(url: str, origin: str | None = None, **options) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        _open(url, origin, **options)
    return refused.value.status_code


def _read(ws: websocket.WebSocket) -> bytes:
    return ws.recv()


def test_a_token_is_issued_hashed_and_lets_one_connection_through(
    member_client, admin_client, guest_consoles, consoles_cloud
):
    uuid, endpoints = _with_consoles(member_client, guest_consoles, "tok-vnc")
    response = _remote(member_client, uuid, "vnc", "novnc")
    assert response.status_code == 200, response.content
    body = response.json()["remote_console"]
    assert (body["protocol"], body["type"]) == ("vnc", "novnc")
    assert body["url"].startswith(f"http://{consoles_cloud}/vnc_lite.html?path=%3Ftoken%3D")
    token = _token(body["url"])
    assert len(token) >= 40
    # Stored only as its hash.
    row = ConsoleAuthToken.objects.get()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str([getattr(row, f.name) for f in row._meta.fields])
    assert (str(row.instance_uuid), row.port) == (uuid, endpoints["vnc"]["port"])

    # An admin sees what it grants (2.31+), without using it up.
    shown = _at(admin_client, "2.31").get(f"{V21}/os-console-auth-tokens/{token}")
    assert shown.status_code == 200, shown.content
    assert shown.json() == {
        "console": {
            "instance_uuid": uuid,
            "host": "127.0.0.1",
            "port": endpoints["vnc"]["port"],
            "internal_access_path": None,
        }
    }
    assert _at(admin_client, "2.30").get(f"{V21}/os-console-auth-tokens/{token}").status_code == 400
    assert member_client.get(f"{V21}/os-console-auth-tokens/{token}").status_code == 403

    # noVNC's page is served, and its websocket (the path from the URL) gets the guest's VNC.
    page = urlsplit(body["url"])
    with socket.create_connection(("127.0.0.1", int(page.port))) as http:
        http.sendall(f"GET {page.path} HTTP/1.0\r\nHost: {page.netloc}\r\n\r\n".encode())
        assert b"200 OK" in http.recv(200)
    ws = _open(_ws_url(consoles_cloud, token), origin=f"http://{consoles_cloud}")
    try:
        assert _read(ws) == b"tok-vnc-vnc"
        ws.send_binary(b"ping")
        assert _read(ws) == b"ping"
    finally:
        ws.close()
    # Single use: the same token again is refused, and shows nothing any more.
    assert _refused(_ws_url(consoles_cloud, token)) == 403
    assert _at(admin_client, "2.31").get(f"{V21}/os-console-auth-tokens/{token}").status_code == 404


def test_spice_and_serial_and_the_actions_before_2_6(member_client, guest_consoles, consoles_cloud):
    uuid, _ = _with_consoles(member_client, guest_consoles, "tok-all")
    spice = _remote(member_client, uuid, "spice", "spice-html5").json()["remote_console"]
    assert spice["url"].startswith(f"http://{consoles_cloud}/spice/spice_auto.html?token=")
    # The SPICE client passes its token in a cookie.
    ws = _open(f"ws://{consoles_cloud}/websockify", cookie=f"token={_token(spice['url'])}")
    assert _read(ws) == b"tok-all-spice"
    ws.close()

    old = _at(member_client, "2.1")
    for action, kind, banner in (
        ("os-getVNCConsole", "novnc", b"tok-all-vnc"),
        ("os-getSPICEConsole", "spice-html5", b"tok-all-spice"),
        ("os-getSerialConsole", "serial", b"tok-all-serial"),
    ):
        response = _act(old, uuid, {action: {"type": kind}})
        assert response.status_code == 200, response.content
        console = response.json()["console"]
        assert console["type"] == kind and set(console) == {"type", "url"}
        ws = _open(_ws_url(consoles_cloud, _token(console["url"]), "/serial"))
        assert _read(ws) == banner
        ws.close()
    serial = _remote(member_client, uuid, "serial", "serial").json()["remote_console"]
    assert serial["url"].startswith(f"ws://{consoles_cloud}/serial?token=")


def test_refusals(member_client, guest_consoles, consoles_cloud, settings):
    uuid, endpoints = _with_consoles(member_client, guest_consoles, "tok-a")
    other, other_endpoints = _with_consoles(member_client, guest_consoles, "tok-b")

    def issue(server_id: str = uuid) -> str:
        return _token(
            _remote(member_client, server_id, "vnc", "novnc").json()["remote_console"]["url"]
        )

    # No token, a wrong one.
    assert _refused(f"ws://{consoles_cloud}/") == 403
    assert _refused(_ws_url(consoles_cloud, "not-a-token")) == 403
    # A page of another origin: refused, and the token is not spent by it.
    token = issue()
    assert _refused(_ws_url(consoles_cloud, token), origin="http://evil.example") == 403
    assert _refused(_ws_url(consoles_cloud, token), origin="file://") == 403
    # No target in the request is obeyed: the token's own console is what answers.
    forced = (
        f"{_ws_url(consoles_cloud, token)}&host=127.0.0.1&port={other_endpoints['vnc']['port']}"
    )
    ws = _open(forced, origin=f"http://{consoles_cloud}")
    assert _read(ws) == b"tok-a-vnc"
    ws.close()

    # Expired: a token outlives its TTL by a moment.
    settings.CONSOLE_TOKEN_TTL = 1
    token = issue()
    time.sleep(1.5)
    assert _refused(_ws_url(consoles_cloud, token)) == 403

    # The guest restarted with other ports, and the other guest now has A's old port:
    # A's token (bound to A and that port) no longer reaches it.
    settings.CONSOLE_TOKEN_TTL = 600
    token = issue()
    host = Instance.objects.get(uuid=uuid).host
    moved = guest_consoles.listen("tok-a2")
    consoles_reported(instance_uuid=uuid, host=host, consoles=moved)
    consoles_reported(
        instance_uuid=other,
        host=Instance.objects.get(uuid=other).host,
        consoles={**other_endpoints, "vnc": endpoints["vnc"]},
    )
    assert _refused(_ws_url(consoles_cloud, token)) == 403
    ws = _open(_ws_url(consoles_cloud, issue()))
    assert _read(ws) == b"tok-a2-vnc"
    ws.close()


def test_deleting_or_moving_the_server_revokes_its_tokens(
    member_client, admin_client, guest_consoles, consoles_cloud
):
    uuid, _ = _with_consoles(member_client, guest_consoles, "tok-del")
    token = _token(_remote(member_client, uuid, "vnc", "novnc").json()["remote_console"]["url"])
    assert member_client.delete(f"{V21}/servers/{uuid}").status_code == 204
    assert _refused(_ws_url(consoles_cloud, token)) == 403
    wait_for(lambda: show(member_client, uuid) is None, 30, message="deleted")

    uuid, _ = _with_consoles(member_client, guest_consoles, "tok-resize")
    tokens = [
        _token(_remote(member_client, uuid, p, t).json()["remote_console"]["url"])
        for p, t in (("vnc", "novnc"), ("serial", "serial"))
    ]
    assert _act(member_client, uuid, {"resize": {"flavorRef": "2"}}).status_code == 202
    for token in tokens:
        assert _refused(_ws_url(consoles_cloud, token)) == 403
    assert not ConsoleAuthToken.objects.filter(instance_uuid=uuid).exists()
    server = wait_status(member_client, uuid, {"VERIFY_RESIZE", "ERROR"}, timeout=60)
    assert server["status"] == "VERIFY_RESIZE", server.get("fault")
    # On its new host the test hypervisor reports no graphics: nothing to issue.
    assert _remote(member_client, uuid, "vnc", "novnc").status_code == 400
