"""No password or token in any log line of the real stack: logins with a known wrong
and right password, requests with the token, then a grep of every process's log."""

import secrets

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _auth(username: str, password: str, project: str) -> dict:
    user = {"name": username, "domain": {"name": "Default"}, "password": password}
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }


def test_no_password_or_token_in_the_stack_logs(stack: RunningStack):
    creds = stack.credentials()
    wrong = f"wrong-{secrets.token_urlsafe(12)}"
    tokens = f"{stack.base}/identity/v3/auth/tokens"
    refused = requests.post(tokens, json=_auth(creds["username"], wrong, "admin"), timeout=30)
    assert refused.status_code == 401
    issued = requests.post(
        tokens, json=_auth(creds["username"], creds["password"], "admin"), timeout=30
    )
    assert issued.status_code == 201
    token = issued.headers["X-Subject-Token"]
    headers = {"X-Auth-Token": token}
    assert requests.get(f"{stack.base}/compute/v2.1/servers", headers=headers, timeout=30).ok
    checked = requests.get(tokens, headers={**headers, "X-Subject-Token": token}, timeout=30)
    assert checked.ok
    # A bad body and an unknown route log warnings with the request.
    requests.post(f"{stack.base}/compute/v2.1/servers", data="{", headers=headers, timeout=30)
    requests.get(f"{stack.base}/compute/v2.1/nope?password={wrong}", headers=headers, timeout=30)
    logs = "".join(path.read_text(errors="replace") for path in (stack.var / "log").glob("*"))
    assert logs
    for secret in (wrong, creds["password"], token):
        assert secret not in logs
