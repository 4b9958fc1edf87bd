"""Response bodies of the console APIs, in Nova's shapes."""

from urllib.parse import quote

from django.conf import settings

from cloud.consoles.models import ConsoleAuthToken


def console_url(*, console_type: str, token: str) -> str:
    """The URL a client opens: the proxy's noVNC page (the websocket path carries the
    token, as Nova's novncproxy_base_url), its SPICE HTML5 page, or its serial
    websocket, from the configured base URLs."""
    if console_type == "novnc":
        return f"{settings.CONSOLE_NOVNC_BASE_URL}?path={quote(f'?token={token}', safe='')}"
    if console_type == "spice-html5":
        return f"{settings.CONSOLE_SPICE_BASE_URL}?token={token}"
    return f"{settings.CONSOLE_SERIAL_BASE_URL}?token={token}"


def remote_console(*, protocol: str, console_type: str, url: str) -> dict:
    """POST /servers/{id}/remote-consoles (2.6+)."""
    return {"remote_console": {"protocol": protocol, "type": console_type, "url": url}}


def legacy_console(*, console_type: str, url: str) -> dict:
    """The os-getVNCConsole, os-getSPICEConsole and os-getSerialConsole actions (to 2.5)."""
    return {"console": {"type": console_type, "url": url}}


def console_auth_token(token: ConsoleAuthToken) -> dict:
    """GET /os-console-auth-tokens/{token}: what the token grants (Nova's 2.31 shape)."""
    return {
        "console": {
            "instance_uuid": str(token.instance_uuid),
            "host": token.host,
            "port": token.port,
            "internal_access_path": None,
        }
    }
