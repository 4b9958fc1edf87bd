"""Plumbing shared by every test layer: free ports, fast password hashing, the Redis
the session's Celery messages go to, and no skips under CI.

Redis: REDIS_URL when set; else 127.0.0.1:6379 when it answers (databases 12/13,
away from a dev stack's 0/1, or the two TEST_REDIS_DATABASES names, which a lane of
deploy/test-lanes.sh beside another sets); else a private redis-server on a free port
for this session. Chosen here, in the first conftest loaded, because the control plane's
Celery app reads its broker from the environment when it is first imported.
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

# A green CI run must mean every test ran (PostgreSQL set up, the QEMU host answering):
# under CI=true a test that skips is a failure. Elsewhere it skips with its reason.
CI = os.environ.get("CI") == "true"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _private_redis() -> str:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="stratus-redis-")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(lambda: (proc.terminate(), proc.wait(10), shutil.rmtree(workdir, True)))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if port_open(port):
            return f"redis://127.0.0.1:{port}"
        time.sleep(0.1)
    raise RuntimeError("private redis-server did not start")


def pytest_configure(config):
    if "CELERY_BROKER_URL" in os.environ:
        return
    # REDIS_URL names the server; the session picks its own databases on it.
    base = os.environ.get("REDIS_URL", "").rstrip("/")
    if base.rsplit("/", 1)[-1].isdigit() and base.count("/") > 2:
        base = base.rsplit("/", 1)[0]
    if not base:
        base = "redis://127.0.0.1:6379" if port_open(6379) else _private_redis()
    broker, results = os.environ.get("TEST_REDIS_DATABASES", "12 13").split()
    os.environ["CELERY_BROKER_URL"] = f"{base}/{broker}"
    os.environ["CELERY_RESULT_BACKEND"] = f"{base}/{results}"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing is deliberately slow; tests hash many passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _fail_skip_under_ci(report):
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    return _fail_skip_under_ci((yield))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    return _fail_skip_under_ci((yield))


@pytest.fixture(autouse=True)
def _identity_cache(settings):
    """Validated tokens are remembered as in a stack (one process here, so its local
    cache is shared by everyone), and nothing remembered outlives a test."""
    from cloud.identity import cache

    settings.TOKEN_CACHE_SIZE = 1000
    cache.forget_all()
    yield
    cache.forget_all()
