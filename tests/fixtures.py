"""Fixtures both database layers use (tests/api and tests/integration import them into
their conftests): the seeded catalogue with an admin and a member, and API clients
holding their Keystone tokens. Nothing here starts a worker."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from cloud.identity.services import project_user_ensure
from cloud.instances.management.commands.seed import seed_catalog
from tests.helpers import PASSWORD, token_for


@pytest.fixture
def seeded(db):
    # Failed-login counters (cloud.identity.throttle) are per test, like the database.
    cache.clear()
    seed_catalog()
    project_user_ensure(
        project_name="admin",
        username="admin",
        password=PASSWORD,
        role_name="admin",
        is_superuser=True,
    )
    project_user_ensure(
        project_name="alpha", username="alice", password=PASSWORD, role_name="member"
    )


@pytest.fixture
def api(seeded) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for("alice", "alpha"))
    return client


@pytest.fixture
def admin_api(seeded) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for("admin", "admin"))
    return client
