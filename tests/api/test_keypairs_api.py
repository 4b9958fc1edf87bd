"""os-keypairs over HTTP with real tokens (database only, no workers): every call, the
microversion differences, errors, per-user isolation, admins naming a user, the key_pairs
quota, and server create with key_name."""

import base64
import json
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.db import connection
from rest_framework.test import APIClient

from cloud.identity.models import KeyPair, Project, Quota, User
from cloud.identity.services import project_user_ensure
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, InstanceAction, RequestSpec
from tests.helpers import PASSWORD, token_for

URL = "/compute/v2.1/os-keypairs"


def v(version: str) -> dict:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {version}"}


def ssh_keygen(directory: Path, kind: str, name: str) -> tuple[str, str]:
    """A fresh public key line and the MD5 fingerprint `ssh-keygen -l -E md5` prints."""
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", f"{path}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    return Path(f"{path}.pub").read_text(), printed.removeprefix("MD5:")


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[str, str]]:
    directory = tmp_path_factory.mktemp("keys")
    return {kind: ssh_keygen(directory, kind, f"id_{kind}") for kind in ("rsa", "ed25519", "ecdsa")}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A PEM certificate and its SHA-1 fingerprint as openssl prints it."""
    directory = tmp_path_factory.mktemp("cert")
    cert = directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "2"]
        + ["-subj", "/CN=win", "-keyout", str(directory / "key.pem"), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    printed = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", str(cert)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return cert.read_text(), printed.strip().split("=", 1)[1].lower()


def _client(username: str, project: str, role: str = "member") -> APIClient:
    project_user_ensure(project_name=project, username=username, password=PASSWORD, role_name=role)
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for(username, project))
    return client


@pytest.fixture
def bob(seeded) -> APIClient:
    """Another member of alice's project."""
    return _client("bob", "alpha")


@pytest.fixture
def carol(seeded) -> APIClient:
    """A member of another project."""
    return _client("carol", "beta")


def uid(username: str) -> str:
    return User.objects.get(username=username).id


def create(client: APIClient, name: str, public_key: str | None = None, version="2.10", **extra):
    body = {"name": name, **extra}
    if public_key is not None:
        body["public_key"] = public_key
    return client.post(URL, {"keypair": body}, format="json", **v(version))


def message(response) -> str:
    return next(iter(response.json().values()))["message"]


# --- import, generate and the shapes of each microversion -----------------------------


def test_import_at_2_1_answers_200_without_type(api, keys):
    public_key, fingerprint = keys["rsa"]
    response = create(api, "k1", public_key, version="2.1")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "keypair": {
            "name": "k1",
            "public_key": public_key,
            "fingerprint": fingerprint,
            "user_id": uid("alice"),
        }
    }
    row = KeyPair.objects.get(name="k1")
    assert (row.user_id, row.type, row.public_key, row.fingerprint) == (
        uid("alice"),
        "ssh",
        public_key,
        fingerprint,
    )


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa"])
def test_import_from_2_2_answers_201_with_type(api, keys, kind):
    public_key, fingerprint = keys[kind]
    response = create(api, f"key-{kind}", public_key, version="2.2")
    assert response.status_code == 201, response.content
    body = response.json()["keypair"]
    assert body["type"] == "ssh" and body["fingerprint"] == fingerprint
    assert "private_key" not in body


def test_generated_key_pair_returns_the_private_key_once(api):
    response = create(api, "made", version="2.91")
    assert response.status_code == 201, response.content
    body = response.json()["keypair"]
    assert set(body) == {"name", "public_key", "fingerprint", "type", "user_id", "private_key"}
    private = serialization.load_pem_private_key(body["private_key"].encode(), password=None)
    derived = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert body["public_key"].startswith(derived.decode() + " ")
    row = KeyPair.objects.get(name="made")
    assert row.public_key == body["public_key"] and row.fingerprint == body["fingerprint"]
    assert "PRIVATE" not in row.public_key
    shown = api.get(f"{URL}/made", **v("2.91")).json()["keypair"]
    assert "private_key" not in shown
    listed = api.get(URL, **v("2.91")).json()["keypairs"][0]["keypair"]
    assert "private_key" not in listed
    at_2_1 = create(api, "made-old", version="2.1")
    assert at_2_1.status_code == 200 and "private_key" in at_2_1.json()["keypair"]


def test_from_2_92_a_public_key_is_required(api, keys):
    response = create(api, "made", version="2.92")
    assert response.status_code == 400
    assert "'public_key' is a required property" in message(response)
    assert not KeyPair.objects.exists()
    assert create(api, "k", keys["ed25519"][0], version="2.92").status_code == 201


def test_x509_import_and_generation_from_2_2(api, certificate):
    pem, fingerprint = certificate
    imported = create(api, "cert", pem, version="2.2", type="x509")
    assert imported.status_code == 201, imported.content
    body = imported.json()["keypair"]
    assert (body["type"], body["fingerprint"], body["public_key"]) == ("x509", fingerprint, pem)

    made = create(api, "winrm", version="2.2", type="x509")
    assert made.status_code == 201, made.content
    body = made.json()["keypair"]
    cert = x509.load_pem_x509_certificate(body["public_key"].encode())
    assert cert.subject.rfc4514_string() == f"CN={uid('alice')}"
    key, bundled, _ = pkcs12.load_key_and_certificates(base64.b64decode(body["private_key"]), None)
    assert bundled == cert and key.public_key() == cert.public_key()

    bad = create(api, "bad-cert", "not a certificate", version="2.2", type="x509")
    assert bad.status_code == 400
    assert message(bad).startswith("Keypair data is invalid: failed to generate X509 fingerprint")
    ssh_as_cert = create(api, "pem-as-ssh", pem, version="2.2", type="ssh")
    assert ssh_as_cert.status_code == 400
    assert set(KeyPair.objects.values_list("name", flat=True)) == {"cert", "winrm"}


def test_list_and_show_shapes(api, keys):
    for name, kind in (("b-key", "rsa"), ("a-key", "ed25519")):
        assert create(api, name, keys[kind][0]).status_code == 201
    old = api.get(URL).json()
    assert old == {
        "keypairs": [
            {
                "keypair": {
                    "name": "a-key",
                    "public_key": keys["ed25519"][0],
                    "fingerprint": keys["ed25519"][1],
                }
            },
            {
                "keypair": {
                    "name": "b-key",
                    "public_key": keys["rsa"][0],
                    "fingerprint": keys["rsa"][1],
                }
            },
        ]
    }
    new = api.get(URL, **v("2.2")).json()["keypairs"]
    assert [k["keypair"]["type"] for k in new] == ["ssh", "ssh"]

    row = KeyPair.objects.get(name="a-key")
    shown = api.get(f"{URL}/a-key").json()["keypair"]
    assert shown == {
        "name": "a-key",
        "public_key": keys["ed25519"][0],
        "fingerprint": keys["ed25519"][1],
        "user_id": uid("alice"),
        "id": row.id,
        "created_at": row.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }
    assert api.get(f"{URL}/a-key", **v("2.2")).json()["keypair"]["type"] == "ssh"


def test_names_with_spaces_and_from_2_92_at_and_dot(api, keys):
    public_key = keys["ed25519"][0]
    assert create(api, "my key", public_key).status_code == 201
    assert api.get(f"{URL}/my%20key").json()["keypair"]["name"] == "my key"
    for name in ("me@example.com", "id.pub"):
        refused = create(api, name, public_key, version="2.91")
        assert refused.status_code == 400 and "field/attribute name" in message(refused)
        assert create(api, name, public_key, version="2.92").status_code == 201
        assert api.get(f"{URL}/{name}").status_code == 200


def test_delete_answers_202_then_204(api, keys):
    for name in ("old", "new"):
        create(api, name, keys["ed25519"][0])
    old = api.delete(f"{URL}/old", **v("2.1"))
    assert old.status_code == 202 and old.content == b""
    assert api.delete(f"{URL}/new", **v("2.2")).status_code == 204
    assert not KeyPair.objects.exists()
    gone = api.delete(f"{URL}/new", **v("2.2"))
    assert gone.status_code == 404
    assert gone.json() == {
        "itemNotFound": {"code": 404, "message": f"Keypair new not found for user {uid('alice')}"}
    }
    missing = api.get(f"{URL}/new")
    assert missing.status_code == 404 and "itemNotFound" in missing.json()


# --- errors ------------------------------------------------------------------------------


def test_duplicate_name_is_409(api, keys):
    assert create(api, "dup", keys["rsa"][0]).status_code == 201
    again = create(api, "dup", keys["ed25519"][0])
    assert again.status_code == 409
    assert again.json() == {
        "conflictingRequest": {"code": 409, "message": "Key pair 'dup' already exists."}
    }
    generated = create(api, "dup", version="2.2")
    assert generated.status_code == 409
    assert KeyPair.objects.get(name="dup").public_key == keys["rsa"][0]


@pytest.mark.parametrize(
    "public_key",
    ["", "ssh-rsa", "ssh-rsa AAAAB3NzaC1yc2E", "garbage", "ssh-dss AAAAB3NzaC1kc3MAAACBAP"],
)
def test_invalid_public_keys_are_400(api, public_key):
    response = create(api, "bad", public_key)
    assert response.status_code == 400
    assert message(response).startswith("Keypair data is invalid: ")
    assert not KeyPair.objects.exists()


@pytest.mark.parametrize("junk", ["\x00", "\ud800"])
def test_a_valid_key_with_unstorable_text_is_400(api, keys, junk):
    body = {"keypair": {"name": "bad", "public_key": keys["ed25519"][0].strip() + junk}}
    # json.dumps escapes both as \u sequences, as a client would send them; the body
    # guard (cloud.api.bodies) refuses them before the view.
    response = api.post(URL, json.dumps(body), content_type="application/json", **v("2.10"))
    assert response.status_code == 400
    assert message(response).startswith("Malformed request body: ")
    assert not KeyPair.objects.exists()


@pytest.mark.parametrize(
    ("body", "version", "mentions"),
    [
        ({}, "2.10", "'keypair' is a required property"),
        ({"keypair": "k"}, "2.10", "'k' is not of type 'object'"),
        ({"keypair": {"name": "k"}, "extra": 1}, "2.10", "'extra' was unexpected"),
        ({"keypair": {}}, "2.10", "'name' is a required property"),
        ({"keypair": {"name": "k", "bogus": 1}}, "2.10", "'bogus' was unexpected"),
        ({"keypair": {"name": "k", "type": "ssh"}}, "2.1", "'type' was unexpected"),
        ({"keypair": {"name": "k", "user_id": "x"}}, "2.9", "'user_id' was unexpected"),
        ({"keypair": {"name": "k", "type": "pgp"}}, "2.10", "type"),
        ({"keypair": {"name": "k", "public_key": 5}}, "2.10", "public_key"),
        ({"keypair": {"name": "k", "user_id": 5}}, "2.10", "user_id"),
        ({"keypair": {"name": ""}}, "2.10", "field/attribute name"),
        ({"keypair": {"name": "x" * 256}}, "2.10", "field/attribute name"),
        ({"keypair": {"name": " lead"}}, "2.10", "field/attribute name"),
        ({"keypair": {"name": "a/b", "public_key": "x"}}, "2.92", "field/attribute name"),
        ({"keypair": {"name": 7}}, "2.10", "field/attribute name"),
    ],
)
def test_bad_create_bodies_are_400_and_write_nothing(api, body, version, mentions):
    response = api.post(URL, body, format="json", **v(version))
    assert response.status_code == 400, response.content
    assert mentions in message(response)
    assert not KeyPair.objects.exists()


def test_unauthenticated_is_401(seeded):
    assert APIClient().get(URL).status_code == 401


# --- per-user isolation and admins ------------------------------------------------------


def test_keypairs_are_per_user_even_within_a_project(api, bob, carol, keys):
    assert create(api, "shared-name", keys["rsa"][0]).status_code == 201
    for other in (bob, carol):
        assert other.get(URL, **v("2.10")).json() == {"keypairs": []}
        shown = other.get(f"{URL}/shared-name")
        assert shown.status_code == 404
        assert "not found for user" in message(shown)
        assert other.delete(f"{URL}/shared-name").status_code == 404
    # The same name is free for everyone else.
    assert create(bob, "shared-name", keys["ed25519"][0]).status_code == 201
    assert create(carol, "shared-name", keys["ecdsa"][0]).status_code == 201
    owners = KeyPair.objects.filter(name="shared-name").values_list("user__username", flat=True)
    assert sorted(owners) == ["alice", "bob", "carol"]
    assert api.get(f"{URL}/shared-name").json()["keypair"]["public_key"] == keys["rsa"][0]


def test_members_cannot_name_another_user(api, bob, keys):
    create(bob, "bobs", keys["rsa"][0])
    bob_id = uid("bob")
    for response in (
        api.get(f"{URL}?user_id={bob_id}", **v("2.10")),
        api.get(f"{URL}/bobs?user_id={bob_id}", **v("2.10")),
        api.delete(f"{URL}/bobs?user_id={bob_id}", **v("2.10")),
        create(api, "for-bob", keys["ed25519"][0], user_id=bob_id),
    ):
        assert response.status_code == 403
        assert "forbidden" in response.json()
    assert KeyPair.objects.filter(user__username="bob").count() == 1
    # Below 2.10 user_id is not a parameter at all: the caller's own key pairs.
    assert api.get(f"{URL}?user_id={bob_id}", **v("2.9")).json() == {"keypairs": []}
    assert api.get(f"{URL}/bobs?user_id={bob_id}", **v("2.9")).status_code == 404
    # Naming oneself is fine.
    own = api.get(f"{URL}?user_id={uid('alice')}", **v("2.10"))
    assert own.status_code == 200


def test_admin_acts_for_another_user_with_user_id(api, admin_api, keys):
    alice = uid("alice")
    made = create(admin_api, "given", keys["rsa"][0], user_id=alice)
    assert made.status_code == 201 and made.json()["keypair"]["user_id"] == alice
    assert KeyPair.objects.get(name="given").user_id == alice
    assert [k["keypair"]["name"] for k in api.get(URL).json()["keypairs"]] == ["given"]
    assert admin_api.get(URL, **v("2.10")).json() == {"keypairs": []}
    listed = admin_api.get(f"{URL}?user_id={alice}", **v("2.10")).json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["given"]
    shown = admin_api.get(f"{URL}/given?user_id={alice}", **v("2.10"))
    assert shown.json()["keypair"]["user_id"] == alice
    assert admin_api.get(f"{URL}/given", **v("2.10")).status_code == 404
    assert admin_api.delete(f"{URL}/given?user_id={alice}", **v("2.10")).status_code == 204
    assert not KeyPair.objects.exists()
    nobody = create(admin_api, "lost", keys["rsa"][0], user_id="no-such-user")
    assert nobody.status_code == 400 and "no-such-user" in message(nobody)


# --- paging and query parameters --------------------------------------------------------


def test_paging_from_2_35(api, keys):
    for name in ("k3", "k1", "k4", "k2", "k5"):
        create(api, name, keys["ed25519"][0])
    first = api.get(f"{URL}?limit=2", **v("2.35")).json()
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["k1", "k2"]
    link = first["keypairs_links"][0]
    assert link["rel"] == "next" and "marker=k2" in link["href"] and "limit=2" in link["href"]
    second = api.get(f"{URL}?limit=2&marker=k2", **v("2.35")).json()
    assert [k["keypair"]["name"] for k in second["keypairs"]] == ["k3", "k4"]
    last = api.get(f"{URL}?limit=2&marker=k4", **v("2.35")).json()
    assert [k["keypair"]["name"] for k in last["keypairs"]] == ["k5"]
    assert "keypairs_links" not in last
    everything = api.get(URL, **v("2.35")).json()
    assert len(everything["keypairs"]) == 5 and "keypairs_links" not in everything
    bad_marker = api.get(f"{URL}?marker=nope", **v("2.35"))
    assert bad_marker.status_code == 400 and "Marker nope could not be found." in message(
        bad_marker
    )
    assert api.get(f"{URL}?limit=-1", **v("2.35")).status_code == 400
    assert api.get(f"{URL}?limit=many", **v("2.35")).status_code == 400
    # Before 2.35 limit and marker are not parameters: everything comes back.
    old = api.get(f"{URL}?limit=2&marker=nope", **v("2.34")).json()
    assert len(old["keypairs"]) == 5 and "keypairs_links" not in old


def test_unknown_query_parameters_refused_from_2_75(api, keys):
    create(api, "k", keys["rsa"][0])
    assert api.get(f"{URL}?sort=name", **v("2.74")).status_code == 200
    for response in (
        api.get(f"{URL}?sort=name", **v("2.75")),
        api.get(f"{URL}/k?limit=1", **v("2.75")),
        api.delete(f"{URL}/k?force=1", **v("2.75")),
    ):
        assert response.status_code == 400
        assert "was unexpected" in message(response)
    assert KeyPair.objects.filter(name="k").exists()
    assert api.get(f"{URL}/k?user_id={uid('alice')}", **v("2.75")).status_code == 200


# --- quota -------------------------------------------------------------------------------


def test_key_pairs_quota_is_per_user(api, bob, keys):
    alpha = Project.objects.get(name="alpha")
    Quota.objects.create(
        project=alpha, user=User.objects.get(username="alice"), resource="key_pairs", hard_limit=2
    )
    assert create(api, "one", keys["rsa"][0]).status_code == 201
    assert create(api, "two", version="2.2").status_code == 201
    for over in (create(api, "three", keys["ed25519"][0]), create(api, "three", version="2.2")):
        assert over.status_code == 403
        assert "key_pairs" in message(over)
    assert not KeyPair.objects.filter(name="three").exists()
    # Bob's limit is the project's (default 100), untouched by alice's key pairs.
    assert create(bob, "three", keys["ed25519"][0]).status_code == 201
    api.delete(f"{URL}/one")
    assert create(api, "three", keys["ed25519"][0]).status_code == 201


def _race(token: str, names: list[str], public_key: str) -> list[tuple[int, dict]]:
    """One create per name at once, each its own request, connection and transaction."""
    barrier = threading.Barrier(len(names))
    results: list[tuple[int, dict]] = []

    def one(name: str) -> None:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=token)
        barrier.wait()
        try:
            reply = create(client, name, public_key)
            results.append((reply.status_code, reply.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_creates_of_one_name_make_one_keypair(transactional_db, seeded, keys):
    results = _race(token_for("alice", "alpha"), ["same"] * 10, keys["rsa"][0])
    assert sorted(code for code, _ in results) == [201] + [409] * 9
    assert KeyPair.objects.filter(name="same").count() == 1


def test_parallel_creates_never_exceed_the_key_pairs_quota(transactional_db, seeded, keys):
    alice = User.objects.get(username="alice")
    alpha = Project.objects.get(name="alpha")
    Quota.objects.create(project=alpha, user=alice, resource="key_pairs", hard_limit=3)
    results = _race(token_for("alice", "alpha"), [f"k{i}" for i in range(10)], keys["rsa"][0])
    assert sorted(code for code, _ in results) == [201] * 3 + [403] * 7
    assert KeyPair.objects.filter(user=alice).count() == 3


# --- server create with key_name --------------------------------------------------------


def boot(client: APIClient, name: str, **extra):
    body = {
        "server": {
            "name": name,
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": "1",
            "networks": "none",
            **extra,
        }
    }
    return client.post("/compute/v2.1/servers", body, format="json", **v("2.96"))


def test_server_create_stores_key_name_and_key_data(api, keys):
    create(api, "k1", keys["ed25519"][0])
    response = boot(api, "vm", key_name="k1")
    assert response.status_code == 202, response.content
    server_id = response.json()["server"]["id"]
    instance = Instance.objects.get(uuid=server_id)
    assert (instance.key_name, instance.key_data) == ("k1", keys["ed25519"][0])
    shown = api.get(f"/compute/v2.1/servers/{server_id}", **v("2.96")).json()["server"]
    assert shown["key_name"] == "k1"
    unkeyed = boot(api, "plain")
    plain = Instance.objects.get(uuid=unkeyed.json()["server"]["id"])
    assert (plain.key_name, plain.key_data) == (None, None)


def test_server_create_with_unknown_or_foreign_key_name_is_400(api, bob, keys):
    create(bob, "bobs", keys["rsa"][0])
    for key_name in ("missing", "bobs"):
        response = boot(api, "vm", key_name=key_name)
        assert response.status_code == 400
        assert response.json() == {
            "badRequest": {"code": 400, "message": "Invalid key_name provided."}
        }
    assert not Instance.objects.exists()
    assert not InstanceAction.objects.exists()
    assert not RequestSpec.objects.exists()
