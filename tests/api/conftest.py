"""API tests on the test database alone: the HTTP API in process, with real Keystone
tokens, and no worker processes. Casts to workers are published on commit, and `db`
rolls each test's transaction back, so nothing is sent; the few tests whose own
threads need committed rows use `transactional_db`. Tests that need workers are in
tests/integration."""

from tests.fixtures import admin_api, api, seeded  # noqa: F401 - fixtures
