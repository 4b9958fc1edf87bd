"""Failed password logins are limited per user and per source address (429 with
Retry-After, in Keystone's shape), and no password or token reaches a log line."""

import logging
import os
import uuid

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from cloud.identity.models import Token
from tests.helpers import PASSWORD, auth_body

TOKENS = "/identity/v3/auth/tokens"


def login(user: str, password: str, addr: str = "192.0.2.1"):
    return APIClient(REMOTE_ADDR=addr).post(
        TOKENS, auth_body(user, "alpha", password), format="json"
    )


def throttled(response) -> int:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == 429 and error["title"] == "Too Many Requests"
    assert "Too many failed logins" in error["message"]
    return int(response["Retry-After"])


@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURE_WINDOW=300)
def test_failed_logins_per_user_answer_429_then_even_the_right_password(seeded):
    for _ in range(3):
        assert login("alice", "wrong").status_code == 401
    issued = Token.objects.count()
    assert 0 < throttled(login("alice", "wrong")) <= 300
    # The right password too, from anywhere: guessing cannot go on.
    assert 0 < throttled(login("alice", PASSWORD, addr="198.51.100.7")) <= 300
    assert Token.objects.count() == issued
    # Another user is not held back.
    assert login("admin", "wrong").status_code == 401


@override_settings(LOGIN_FAILURES_PER_SOURCE=4, LOGIN_FAILURES_PER_USER=100)
def test_failed_logins_per_source_answer_429(seeded):
    for name in ("u1", "u2", "u3", "u4"):
        assert login(name, "wrong").status_code == 401
    throttled(login("alice", PASSWORD))
    assert login("alice", PASSWORD, addr="198.51.100.7").status_code == 201


@override_settings(LOGIN_FAILURES_PER_USER=3)
def test_a_successful_login_clears_the_users_count(seeded):
    for _ in range(2):
        assert login("alice", "wrong").status_code == 401
    assert login("alice", PASSWORD).status_code == 201
    for _ in range(2):
        assert login("alice", "wrong").status_code == 401
    assert login("alice", PASSWORD).status_code == 201


def test_the_cache_of_a_stack_is_redis(monkeypatch, tmp_path):
    """The counters are shared by every api process only in a shared cache: the stack
    runner gives the api Redis (CACHE_URL, beside the broker), and settings read it."""
    import environ  # noqa: PLC0415

    from deploy.stack import Stack, arguments  # noqa: PLC0415 - the runner, not the app

    args = arguments().parse_args(
        ["run", "--var-dir", str(tmp_path), "--computes", "1", "--redis-db", "4"]
    )
    monkeypatch.delenv("CACHE_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    env = Stack(args).base_env("redis://127.0.0.1:6999")
    assert env["CACHE_URL"] == "redis://127.0.0.1:6999/6"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6999/3")
    assert Stack(args).base_env("redis://127.0.0.1:6999")["CACHE_URL"].startswith("redis://")
    backend = environ.Env.cache_url_config(env["CACHE_URL"])["BACKEND"]
    assert backend == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize("level", [logging.DEBUG])
def test_no_password_or_token_in_any_log_line(seeded, caplog, level):
    secret_password = "Sup3r-Secret-Pa55word"
    caplog.set_level(level)
    login("alice", secret_password)
    login("alice", PASSWORD)
    response = APIClient().post(TOKENS, auth_body("alice", "alpha"), format="json")
    token = response["X-Subject-Token"]
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token)
    client.get("/compute/v2.1/servers")
    client.get(TOKENS, HTTP_X_SUBJECT_TOKEN=token)
    client.post("/compute/v2.1/servers", {"server": {"adminPass": secret_password}}, format="json")
    # What code might log by mistake: the body, the headers, an exception with them.
    log = logging.getLogger("cloud.test")
    log.warning("login body %s", auth_body("alice", "alpha", secret_password))
    log.warning("headers: X-Auth-Token: %s", token)
    try:
        raise ValueError(f"token {token} password={secret_password}")
    except ValueError:
        log.exception("failed")
    text = caplog.text + "".join(logging.Formatter().format(r) for r in caplog.records)
    assert caplog.records
    assert secret_password not in text and PASSWORD not in text
    assert token not in text


def test_the_counters_work_in_redis(seeded):
    """The same limits with the counters in a real Redis, as in a stack."""
    base = os.environ.get("REDIS_URL") or os.environ["CELERY_BROKER_URL"].rsplit("/", 1)[0]
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{base}/14",
            "KEY_PREFIX": f"test-{uuid.uuid4()}",
        }
    }
    with override_settings(CACHES=redis_cache, LOGIN_FAILURES_PER_USER=2):
        for _ in range(2):
            assert login("alice", "wrong").status_code == 401
        throttled(login("alice", PASSWORD))
