"""Key pairs with the real `openstack` CLI against the real stack: import a key made by
ssh-keygen, let the CLI generate one, list, show, boot a server with a key name, delete."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _json(stack: RunningStack, *args: str):
    return json.loads(stack.openstack(*args, "-f", "json"))


def _md5(public_key: str) -> str:
    """What `ssh-keygen -l -E md5` prints for a public key: '256 MD5:aa:... comment (ED25519)'."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", "-"],
        input=public_key,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1].removeprefix("MD5:")


def test_keypair_journey(stack: RunningStack, tmp_path: Path):
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    public_key = key.with_suffix(".pub").read_text()
    try:
        imported = _json(stack, "keypair", "create", "--public-key", f"{key}.pub", "k1")
        assert imported["name"] == "k1" and imported["fingerprint"] == _md5(public_key)
        assert imported["type"] == "ssh"

        # Without --public-key the CLI makes the key pair itself and sends the public half.
        private = tmp_path / "k2"
        generated = _json(stack, "keypair", "create", "--private-key", str(private), "k2")
        private.chmod(0o600)  # the CLI leaves it to the umask; ssh-keygen wants it private
        derived = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(private)], check=True, capture_output=True, text=True
        ).stdout
        assert generated["fingerprint"] == _md5(derived)

        listed = _json(stack, "keypair", "list")
        assert {k["Name"]: k["Fingerprint"] for k in listed} == {
            "k1": _md5(public_key),
            "k2": _md5(derived),
        }
        shown = _json(stack, "keypair", "show", "k1")
        assert (shown["name"], shown["fingerprint"]) == ("k1", _md5(public_key))
        printed = stack.openstack("keypair", "show", "--public-key", "k1")
        assert printed.strip() == public_key.strip()

        created = _json(
            stack,
            "server",
            "create",
            "--flavor",
            "m1.tiny",
            "--image",
            "tiny",
            "--key-name",
            "k1",
            "--nic",
            "none",
            "--wait",
            "keyed",
        )
        assert created["status"] == "ACTIVE"
        assert _json(stack, "server", "show", "keyed")["key_name"] == "k1"

        stack.openstack("server", "delete", "--wait", "keyed")
        stack.openstack("keypair", "delete", "k1", "k2")
        assert _json(stack, "keypair", "list") == []
    finally:
        _leave_nothing_behind(stack)


def _leave_nothing_behind(stack: RunningStack) -> None:
    """After a failure, free what the journey made: the stack is shared by the session."""
    if any(s["Name"] == "keyed" for s in _json(stack, "server", "list")):
        stack.openstack("server", "delete", "--wait", "keyed")
    left = sorted({k["Name"] for k in _json(stack, "keypair", "list")} & {"k1", "k2"})
    if left:
        stack.openstack("keypair", "delete", *left)
