"""Keystone v3 subset: discovery, password tokens, validation, revocation."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from cloud.identity.admin_services import project_update
from cloud.identity.models import Project, Token
from cloud.identity.services import token_digest
from tests.helpers import auth_body, token_for


def test_version_documents_need_no_token(db):
    client = APIClient()
    v3 = client.get("/identity/v3")
    assert v3.status_code == 200
    assert v3.json()["version"]["id"].startswith("v3.")
    assert v3.json()["version"]["links"][0]["href"].endswith("/identity/v3/")
    root = client.get("/identity/")
    assert root.status_code == 300
    assert root.json()["versions"]["values"][0]["status"] == "stable"


def test_password_token_has_catalog_and_roles(seeded):
    response = APIClient().post(
        "/identity/v3/auth/tokens", auth_body("alice", "alpha"), format="json"
    )
    assert response.status_code == 201
    assert len(response["X-Subject-Token"]) >= 32
    token = response.json()["token"]
    assert token["project"]["name"] == "alpha"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    services = {s["type"]: s for s in token["catalog"]}
    assert set(services) >= {"identity", "compute", "image"}
    compute_urls = {e["interface"]: e["url"] for e in services["compute"]["endpoints"]}
    assert compute_urls["public"] == "http://testserver/compute/v2.1"
    assert token["expires_at"].endswith("Z")


def test_token_is_stored_hashed(seeded):
    secret = token_for("alice", "alpha")
    assert not Token.objects.filter(digest=secret).exists()
    assert Token.objects.count() == 1


def test_wrong_password_and_unknown_project_are_401(seeded):
    client = APIClient()
    bad = client.post(
        "/identity/v3/auth/tokens", auth_body("alice", "alpha", "nope"), format="json"
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == 401
    assert bad.json()["error"]["title"] == "Unauthorized"
    other = client.post("/identity/v3/auth/tokens", auth_body("alice", "admin"), format="json")
    assert other.status_code == 401


def test_malformed_auth_body_is_400(seeded):
    client = APIClient()
    for body in (
        {},
        {"auth": {}},
        {"auth": {"identity": {"methods": ["token"]}}},
        {"auth": {"identity": {"methods": ["password"], "password": {}}}},
    ):
        response = client.post("/identity/v3/auth/tokens", body, format="json")
        assert response.status_code == 400, body
        assert "error" in response.json()
    raw = client.post("/identity/v3/auth/tokens", "{not json", content_type="application/json")
    assert raw.status_code == 400


def test_requests_need_a_valid_token(seeded):
    client = APIClient()
    assert client.get("/compute/v2.1/servers").status_code == 401
    client.credentials(HTTP_X_AUTH_TOKEN="forged")
    response = client.get("/compute/v2.1/servers")
    assert response.status_code == 401
    assert response.json()["unauthorized"]["code"] == 401


def test_expired_revoked_and_disabled_tokens_are_refused(seeded, monkeypatch):
    secret = token_for("alice", "alpha")
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=secret)
    assert client.get("/compute/v2.1/servers").status_code == 200

    expiry = Token.objects.get(digest=token_digest(secret)).expires_at
    with monkeypatch.context() as clock:  # the token, validated already, expires
        clock.setattr(timezone, "now", lambda: expiry + timedelta(seconds=1))
        assert client.get("/compute/v2.1/servers").status_code == 401

    fresh = token_for("alice", "alpha")
    client.credentials(HTTP_X_AUTH_TOKEN=fresh, HTTP_X_SUBJECT_TOKEN=fresh)
    assert client.get("/identity/v3/auth/tokens").status_code == 200
    assert client.delete("/identity/v3/auth/tokens").status_code == 204
    assert client.get("/compute/v2.1/servers").status_code == 401

    third = token_for("alice", "alpha")
    client.credentials(HTTP_X_AUTH_TOKEN=third)
    assert client.get("/compute/v2.1/servers").status_code == 200
    project_update(project=Project.objects.get(name="alpha"), changes={"enabled": False})
    assert client.get("/compute/v2.1/servers").status_code == 401
