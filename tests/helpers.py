"""Small helpers for driving the API in integration tests."""

import time

from rest_framework.test import APIClient

from cloud.instances.management.commands.seed import TINY_IMAGE_ID


def create_server(client: APIClient, name: str, flavor: str = "1", **extra) -> dict:
    body = {
        "server": {
            "name": name,
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": flavor,
            "networks": "none",
            **extra,
        }
    }
    response = client.post("/compute/v2.1/servers", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["server"]


def show(client: APIClient, server_id: str) -> dict | None:
    response = client.get(f"/compute/v2.1/servers/{server_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.content
    return response.json()["server"]


def wait_status(client: APIClient, server_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    server = None
    while time.monotonic() < deadline:
        server = show(client, server_id)
        if server and server["status"] in statuses:
            return server
        time.sleep(0.2)
    raise AssertionError(f"server {server_id} never reached {statuses}: {server}")


def wait_gone(client: APIClient, server_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if show(client, server_id) is None:
            return
        time.sleep(0.2)
    raise AssertionError(f"server {server_id} was not deleted")


PASSWORD = "correct-horse"


def auth_body(username: str, project: str | None, password: str = PASSWORD) -> dict:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"name": "Default"}, "password": password}
                },
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return body


def token_for(username: str, project: str) -> str:
    response = APIClient().post(
        "/identity/v3/auth/tokens", auth_body(username, project), format="json"
    )
    assert response.status_code == 201, response.content
    return response["X-Subject-Token"]


def casts(callbacks: list) -> list:
    """The on-commit callbacks that send a task (not those that publish notifications,
    nor the write audit's)."""
    return [c for c in callbacks if not hasattr(c, "notification") and not hasattr(c, "audit")]
