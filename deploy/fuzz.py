"""The schema fuzzer: schemathesis over /api/schema/ against a fresh stack, as an
admin and as a member at once, failing on any 5xx, on a response the schema does not
describe, and on a 4xx that left a row behind.

    .venv/bin/python deploy/fuzz.py                      # make fuzz: 90 s
    .venv/bin/python deploy/fuzz.py --max-time 300 --seed 1234
    .venv/bin/python deploy/fuzz.py --max-time 45        # the fuzz lane of make test

It starts the stack (deploy/stack.py, the runner behind `make start`) on free ports
in a temporary var dir with a private Redis and, when DATABASE_URL names a
PostgreSQL server, a fresh database on it (dropped afterwards; else SQLite), takes
a token for the admin and one for the demo member, and runs `schemathesis run` for
both tokens side by side, each bounded by --max-time seconds, with the checks in
CHECKS: no 5xx, every status, content type and body as the schema documents them.
A 4xx that committed an INSERT is logged by the API (cloud.api.write_audit); the run
fails on any such line in the stack's log. The seed is printed before the run and
in the summary, so a failure can be replayed with --seed (`make fuzz FUZZ_SEED=...`).
The stack's log is printed when a run fails. Exit status: 0 when all held.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
LEFT_ROWS = "client error left rows"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def token(base: str, user: str, password: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": user, "domain": {"name": "Default"}}},
        }
    }
    response = requests.post(f"{base}/identity/v3/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def fuzz(base: str, role: str, secret: str, args: argparse.Namespace, reports: Path):
    """Start schemathesis as this role over the schema saved in reports/; the caller
    waits on it."""
    schemathesis = Path(PYTHON).parent / "schemathesis"
    argv = [
        str(schemathesis),
        "run",
        str(reports / "openapi.json"),
        "--url",
        base,
        "--header",
        f"X-Auth-Token: {secret}",
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(args.max_time),
        "--phases",
        args.phases,
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--request-timeout",
        "30",
        "--report",
        "junit,har",
        "--report-dir",
        str(reports / role),
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    print(f"--- fuzzing as {role} for {args.max_time} s, seed {args.seed}", flush=True)
    # schemathesis masks the X-Auth-Token value in its output (--output-sanitize).
    (reports / role).mkdir(parents=True, exist_ok=True)
    log = (reports / f"{role}.log").open("w")
    # Run in the temporary dir: schemathesis keeps a cache (.schemathesis/) where it runs.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks", "PYTHONPATH": str(ROOT / "deploy")}
    return subprocess.Popen(argv, cwd=reports / role, env=env, stdout=log, stderr=subprocess.STDOUT)


def counted(reports: Path) -> tuple[int, int]:
    """Requests in the run's HAR report, and how many were answered with a 5xx."""
    sent = errors = 0
    for har in reports.glob("har-*.json"):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            sent += 1
            errors += entry["response"]["status"] >= 500
    return sent, errors


def fresh_database(url: str) -> tuple[str, str] | None:
    """A new, empty database beside the one `url` names (PostgreSQL only): its URL and
    name, or None for another engine (the stack then uses SQLite)."""
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    name = f"stratus_fuzz_{os.getpid()}"
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}", name


def _maintenance(url: str) -> str:
    """The server's `postgres` database (the one DATABASE_URL names may not exist)."""
    return url.rsplit("/", 1)[0] + "/postgres"


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-time", type=int, default=90, help="seconds (both roles at once)")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--workers", type=int, default=2, help="per role")
    parser.add_argument(
        "--phases", default="fuzzing", help="schemathesis phases (coverage is slow; no examples)"
    )
    parser.add_argument(
        "--max-examples", type=int, default=10, help="generated cases per operation and phase"
    )
    parser.add_argument("--roles", default="admin,member", help="admin, member or both")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    print(
        f"fuzz seed: {args.seed} (replay: make fuzz FUZZ_SEED={args.seed} "
        f"FUZZ_SECONDS={args.max_time})",
        flush=True,
    )

    workdir = Path(tempfile.mkdtemp(prefix="stratus-fuzz-"))
    var = workdir / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL")
    }
    server_url = os.environ.get("DATABASE_URL", "")
    database = fresh_database(server_url)
    if database is not None:
        env["DATABASE_URL"] = database[0]
    print(f"fuzz database: {database[1] if database else 'SQLite'}", flush=True)
    stack = [PYTHON, str(ROOT / "deploy" / "stack.py")]
    start = [
        *stack,
        "start",
        "--var-dir",
        str(var),
        "--port",
        str(port),
        "--flower-port",
        "0",
        "--console-port",
        str(free_port()),
        "--computes",
        "1",
        # Beside the other lanes of make test, migrating and seeding can be slow.
        "--ready-timeout",
        "300",
        "--redis",
        "private",
        "--redis-port",
        str(free_port()),
    ]
    results: dict[str, int] = {}
    reports = workdir / "reports"
    try:
        subprocess.run(start, env=env, check=True, timeout=600)
        creds = dict(line.split("=", 1) for line in (var / "secrets.env").read_text().split())
        tokens = {
            "admin": token(base, "admin", creds["ADMIN_PASSWORD"]),
            "member": token(base, "demo", creds["DEMO_PASSWORD"]),
        }
        # Fetched once for both runs: generating the document is the API's slowest call.
        reports.mkdir(parents=True, exist_ok=True)
        schema = requests.get(f"{base}/api/schema/?format=json", timeout=120)
        schema.raise_for_status()
        (reports / "openapi.json").write_bytes(schema.content)
        runs = {
            role: fuzz(base, role, tokens[role], args, reports) for role in args.roles.split(",")
        }
        for role, proc in runs.items():
            results[role] = proc.wait(timeout=args.max_time * 4 + 600)
    finally:
        subprocess.run([*stack, "stop", "--var-dir", str(var)], env=env, timeout=120)
        if database is not None:
            drop_database(server_url, database[1])
    log = var / "log" / "stack.log"
    stack_log = log.read_text(errors="replace") if log.exists() else ""
    left_rows = [line for line in stack_log.splitlines() if LEFT_ROWS in line]
    for role in results:
        print(f"---- schemathesis as {role} ----")
        print((reports / f"{role}.log").read_text(errors="replace"))
    failed = [role for role, code in results.items() if code != 0]
    if (failed or left_rows) and stack_log:
        print("--- stack log (last 200 lines)")
        print("\n".join(stack_log.splitlines()[-200:]))
    total_sent = total_errors = 0
    for role, code in results.items():
        sent, errors = counted(reports / role)
        total_sent += sent
        total_errors += errors
        print(
            f"fuzz {role}: {sent} requests sent, {errors} answered 5xx; "
            f"{'ok' if code == 0 else f'FAILED (exit {code})'}"
        )
    print(
        f"fuzz: {total_sent} requests, {total_errors} answered 5xx, "
        f"{len(left_rows)} 4xx left rows behind"
    )
    for line in left_rows:
        print(f"  {line}")
    print(
        f"fuzz seed: {args.seed} (replay: make fuzz FUZZ_SEED={args.seed} "
        f"FUZZ_SECONDS={args.max_time}); reports in {reports}"
    )
    # A role that sent nothing tested nothing (schemathesis spent its time limit before
    # its first request, as on a machine loaded by the other lanes): that is a failure.
    silent = [role for role in results if not counted(reports / role)[0]]
    for role in silent:
        print(f"fuzz {role}: FAILED, no request sent in {args.max_time} s")
    if not failed and not left_rows and not silent:
        shutil.rmtree(var, ignore_errors=True)
    return 1 if failed or left_rows or silent or not results else 0


if __name__ == "__main__":
    sys.exit(main())
