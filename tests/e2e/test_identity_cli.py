"""Identity administration with the real `openstack` CLI against the real stack: the
admin makes projects and users, each user boots a server that only they can see, and
disabling a user locks them out at their next command."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).parent / "openstack"
# (user, password, project)
ACCOUNTS = (("e2e-ann", "ann-pass-1", "e2e-apple"), ("e2e-ben", "ben-pass-2", "e2e-berry"))


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def as_user(stack: RunningStack, account: tuple[str, str, str], *args: str):
    """The CLI as a user, from command-line options alone (no clouds.yaml)."""
    username, password, project = account
    env = {k: v for k, v in stack.env.items() if k not in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE")}
    options = [
        f"--os-auth-url={stack.base}/identity/v3",
        f"--os-username={username}",
        f"--os-password={password}",
        f"--os-project-name={project}",
        "--os-user-domain-name=Default",
        "--os-project-domain-name=Default",
        "--os-identity-api-version=3",
        "--os-region-name=RegionOne",
    ]
    return subprocess.run(
        [str(CLI), *options, *args], env=env, capture_output=True, text=True, timeout=180
    )


def as_user_json(stack: RunningStack, account: tuple[str, str, str], *args: str):
    result = as_user(stack, account, *args, "-f", "json")
    assert result.returncode == 0, f"{account[0]}: openstack {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def test_admin_lists_identity(stack: RunningStack):
    assert {p["Name"] for p in _json(stack, "project", "list")} >= {"admin", "demo"}
    assert {u["Name"] for u in _json(stack, "user", "list")} >= {"admin", "demo"}
    assert {r["Name"] for r in _json(stack, "role", "list")} >= {"admin", "member", "reader"}
    assert [(d["ID"], d["Name"]) for d in _json(stack, "domain", "list")] == [
        ("default", "Default")
    ]


def _cleanup(stack: RunningStack, servers: list[str]) -> None:
    """Best effort: the test's own assertions matter more than a failed clean-up."""
    commands = [
        ["server", "delete", "--wait", *servers] if servers else None,
        ["user", "delete", *(user for user, _, _ in ACCOUNTS)],
        ["project", "delete", *(project for _, _, project in ACCOUNTS)],
    ]
    for command in filter(None, commands):
        subprocess.run(
            [str(CLI), *command], env=stack.env, capture_output=True, text=True, timeout=180
        )


def test_users_of_two_projects_are_isolated_and_can_be_locked_out(stack: RunningStack):
    servers: list[str] = []
    try:
        for username, password, project in ACCOUNTS:
            created = _json(stack, "project", "create", "--description", "e2e", project)
            assert (created["name"], created["domain_id"]) == (project, "default")
            user = _json(
                stack, "user", "create", "--project", project, "--password", password, username
            )
            assert user["default_project_id"] == created["id"]
            assert "password" not in user
            stack.openstack("role", "add", "--project", project, "--user", username, "member")
            assignments = _json(
                stack, "role", "assignment", "list", "--project", project, "--names"
            )
            assert [(a["Role"], a["User"], a["Project"]) for a in assignments] == [
                ("member", f"{username}@Default", f"{project}@Default")
            ]

        boot = ["server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--nic", "none"]
        with ThreadPoolExecutor(len(ACCOUNTS)) as pool:
            booted = list(
                pool.map(
                    lambda account: as_user_json(
                        stack, account, *boot, "--wait", f"{account[0]}-vm"
                    ),
                    ACCOUNTS,
                )
            )
        servers = [server["id"] for server in booted]
        assert [server["status"] for server in booted] == ["ACTIVE", "ACTIVE"]

        for index, account in enumerate(ACCOUNTS):
            own, other = booted[index], booted[1 - index]
            listed = as_user_json(stack, account, "server", "list")
            assert [(s["ID"], s["Name"]) for s in listed] == [(own["id"], own["name"])]
            assert as_user_json(stack, account, "server", "show", own["id"])["id"] == own["id"]
            refused = as_user(stack, account, "server", "show", other["id"])
            assert refused.returncode != 0
            # A server of another project is not found (404), as if it did not exist.
            assert f"No Server found for {other['id']}" in refused.stderr

        stack.openstack("user", "set", "--disable", ACCOUNTS[0][0])
        locked_out = as_user(stack, ACCOUNTS[0], "server", "list")
        assert locked_out.returncode != 0
        assert "HTTP 401" in locked_out.stderr
        still_in = as_user_json(stack, ACCOUNTS[1], "server", "list")
        assert [s["ID"] for s in still_in] == [servers[1]]
    finally:
        _cleanup(stack, servers)
    assert not {u["Name"] for u in _json(stack, "user", "list")} & {a[0] for a in ACCOUNTS}
    assert not {p["Name"] for p in _json(stack, "project", "list")} & {a[2] for a in ACCOUNTS}
