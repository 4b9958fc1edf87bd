"""Validated tokens are remembered per process (cloud.identity.cache): after a token's
first use a request spends no query on it, and every identity write, in this process
or another one, takes effect at the next request."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cloud.identity import cache as identity_cache
from cloud.identity.admin_services import grant_revoke, project_update, user_update
from cloud.identity.models import Project, Role, Token, User
from cloud.identity.services import token_digest
from tests.helpers import token_for

V3 = "/identity/v3"
TOKENS = f"{V3}/auth/tokens"


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=secret, HTTP_X_SUBJECT_TOKEN=secret)
    return client


def test_a_remembered_token_costs_no_query(seeded, django_assert_num_queries):
    """Validating one's own token with its catalog: token, policy and catalog, no query."""
    client = client_for(token_for("alice", "alpha"))
    with CaptureQueriesContext(connection) as first:
        assert client.get(TOKENS).status_code == 200
    assert len(first) > 0
    with django_assert_num_queries(0):
        shown = client.get(TOKENS)
    body = shown.json()["token"]
    assert body["project"]["name"] == "alpha"
    assert {r["name"] for r in body["roles"]} == {"member", "reader"}
    assert body["user"]["domain"]["name"] == "Default"
    assert body["catalog"]


def test_another_process_revoking_takes_effect_at_the_next_request(seeded):
    """Another API process revokes the token: its row changes and the shared generation
    moves on (here: the row by hand, the generation as that process's commit does)."""
    secret = token_for("alice", "alpha")
    client = client_for(secret)
    assert client.get(TOKENS).status_code == 200
    Token.objects.filter(digest=token_digest(secret)).update(revoked=True)
    assert client.get(TOKENS).status_code == 200  # remembered: this process saw no write
    cache.incr(identity_cache.GENERATION_KEY)
    assert client.get(TOKENS).status_code == 401


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda: project_update(
                project=Project.objects.get(name="alpha"), changes={"enabled": False}
            ),
            id="project-disabled",
        ),
        pytest.param(
            lambda: user_update(
                user=User.objects.get(username="alice"), changes={"enabled": False}
            ),
            id="user-disabled",
        ),
        pytest.param(
            lambda: [
                grant_revoke(
                    user=User.objects.get(username="alice"),
                    project=Project.objects.get(name="alpha"),
                    role=Role.objects.get(name=name),
                )
                for name in ("member", "reader")
            ],
            id="roles-removed",
        ),
    ],
)
def test_identity_writes_take_effect_on_a_remembered_token(seeded, write):
    client = client_for(token_for("alice", "alpha"))
    assert client.get(TOKENS).status_code == 200
    write()
    assert client.get(TOKENS).status_code == 401


def test_a_role_change_shows_in_the_next_request(seeded):
    secret = token_for("alice", "alpha")
    client = client_for(secret)
    assert client.post("/compute/v2.1/servers", {}, format="json").status_code == 400
    grant_revoke(
        user=User.objects.get(username="alice"),
        project=Project.objects.get(name="alpha"),
        role=Role.objects.get(name="member"),
    )
    assert [r["name"] for r in client.get(TOKENS).json()["token"]["roles"]] == ["reader"]
    assert client.post("/compute/v2.1/servers", {}, format="json").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_moves_the_shared_generation_on(seeded):
    """What reaches the other processes: the generation moves on once the write commits."""
    before = identity_cache.generation()
    project_update(project=Project.objects.get(name="alpha"), changes={"description": "x"})
    assert identity_cache.generation() != before


def test_the_cache_is_bounded(seeded, settings):
    settings.TOKEN_CACHE_SIZE = 2
    secrets = [token_for("alice", "alpha") for _ in range(3)]
    for secret in secrets:
        assert client_for(secret).get(TOKENS).status_code == 200
    assert len(identity_cache._entries) <= 2
