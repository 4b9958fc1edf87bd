"""The console proxy: browsers' websockets to guests' VNC, SPICE and serial consoles,
one token-checked connection at a time (Nova's nova-novncproxy, nova-spicehtml5proxy and
nova-serialproxy in one process).

    python -m cloud.consoles.proxy [--host 127.0.0.1] [--port 6080]

Built on websockify (what Nova uses): each connection is handled in a process of its
own. It serves the noVNC client (Debian's `novnc` package, at `/`) and the SPICE HTML5
client (`spice-html5`, at `/spice/`) as plain files, and upgrades a websocket only when

- its Origin, if the browser sent one, is the proxy itself or one of
  CONSOLE_ALLOWED_ORIGINS (a page elsewhere cannot borrow a user's console), and
- its token (`?token=`, in the query of the path noVNC asks for, or the `token` cookie
  the SPICE client sets) is spent successfully (cloud.consoles.services): known,
  unused, unexpired, and its instance's console still where the token points.

Then it connects to the address and port the token names, and nowhere else: there is
no target in the request to choose (no open relay). Every refusal is a 403 before the
websocket opens; the reason is logged, not told.
"""

import argparse
import logging
import os
import socket
import sys
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import django

log = logging.getLogger("cloud.consoles.proxy")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloud.settings")
    django.setup()


def request_token(path: str, cookie_header: str | None) -> str | None:
    """The token of a websocket request: `?token=` in its path's query (noVNC opens
    `/?token=...`, a serial client `/serial?token=...`), else the `token` cookie."""
    values = parse_qs(urlsplit(path).query).get("token")
    if values:
        return values[0]
    if cookie_header:
        cookie = SimpleCookie()
        try:
            cookie.load(cookie_header)
        except Exception:
            return None
        if "token" in cookie:
            return cookie["token"].value
    return None


def origin_allowed(origin: str | None, host_header: str | None, allowed: list[str]) -> bool:
    """No Origin (not a browser) passes; a browser's must be this proxy (its Host) or an
    allowed one, over http(s)."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return parts.netloc.lower() in {h.lower() for h in [host_header or "", *allowed] if h}


def make_handler():
    """The request handler class (built after Django is set up: it needs the services)."""
    from django.conf import settings
    from django.db import connections
    from websockify.auth_plugins import AuthenticationError
    from websockify.websocketproxy import ProxyRequestHandler
    from websockify.websockifyserver import WebSockifyServer

    from cloud.consoles.services import ConsoleTokenRefused, console_token_spend

    class ConsoleProxyHandler(ProxyRequestHandler):
        grant = None

        def translate_path(self, path: str) -> str:
            """`/spice/...` from the SPICE client's directory, the rest from noVNC's."""
            clean = urlsplit(path).path
            if clean == "/spice" or clean.startswith("/spice/"):
                self.directory = settings.CONSOLE_SPICE_DIR
                clean = clean[len("/spice") :] or "/"
            else:
                self.directory = settings.CONSOLE_NOVNC_DIR
            return super().translate_path(clean)

        def _refuse(self, why: str) -> None:
            log.warning("refused %s from %s: %s", self.path.split("?")[0], self.address, why)
            error = AuthenticationError(log_msg=why, response_code=403, response_msg="Forbidden")
            self.send_auth_error(error)
            raise error

        @property
        def address(self) -> str:
            return self.client_address[0] if self.client_address else "?"

        def validate_connection(self) -> None:
            if not origin_allowed(
                self.headers.get("Origin"),
                self.headers.get("Host"),
                settings.CONSOLE_ALLOWED_ORIGINS,
            ):
                self._refuse(f"origin {self.headers.get('Origin')!r} is not allowed")
            token = request_token(self.path, self.headers.get("Cookie"))
            if not token:
                self._refuse("no token")
            try:
                self.grant = console_token_spend(token=token)
            except ConsoleTokenRefused as exc:
                self._refuse(str(exc))
            finally:
                # The session may last hours; it holds no database connection meanwhile.
                connections.close_all()

        def auth_connection(self) -> None:
            """The token is the authorization (validate_connection)."""

        def new_websocket_client(self) -> None:
            grant = self.grant
            log.info(
                "%s: %s console of %s at %s:%s",
                self.address,
                grant.kind,
                grant.instance_uuid,
                grant.host,
                grant.port,
            )
            try:
                target = WebSockifyServer.socket(grant.host, grant.port, connect=True)
            except Exception as exc:
                log.warning("cannot reach %s:%s: %s", grant.host, grant.port, exc)
                raise self.CClose(1011, "The console is not reachable") from exc
            self.request.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)
            target.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)
            try:
                self.do_proxy(target)
            finally:
                target.close()

    return ConsoleProxyHandler


def main(argv: list[str] | None = None) -> int:
    _setup_django()
    from django.conf import settings
    from django.db import connections
    from websockify.websocketproxy import WebSocketProxy

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=settings.CONSOLE_PROXY_HOST)
    parser.add_argument("--port", type=int, default=settings.CONSOLE_PROXY_PORT)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for directory in (settings.CONSOLE_NOVNC_DIR, settings.CONSOLE_SPICE_DIR):
        if not os.path.isdir(directory):
            log.warning("%s is missing: install Debian's novnc and spice-html5", directory)
    # Each connection is served by a forked process: none inherits a database connection.
    connections.close_all()
    server = WebSocketProxy(
        RequestHandlerClass=make_handler(),
        listen_host=args.host,
        listen_port=args.port,
        web=settings.CONSOLE_NOVNC_DIR,
        file_only=True,
        verbose=args.verbose,
        heartbeat=30,
    )
    server.start_server()
    return 0


if __name__ == "__main__":
    sys.exit(main())
