"""The suite's own PostgreSQL cluster and Redis, to stop and start at will.

Never the machine's: a cluster made by initdb under a temp dir with the machine's
PostgreSQL binaries (/usr/lib/postgresql/*/bin), and a redis-server on a free port,
so restarting them harms nobody else. PostgreSQL refuses to run as root; as root
its commands run as the `postgres` user, who owns the cluster's directory.
"""

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port, port_open


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s: {what}")
        time.sleep(0.05)


class PostgresCluster:
    """A throwaway cluster: trust authentication on 127.0.0.1, no fsync (speed)."""

    USER = "stratus"

    def __init__(self, workdir: Path) -> None:
        self.bin = _postgres_bin()
        self.dir = workdir / "pg"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run(
            [*prefix, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"postgres://{self.USER}@127.0.0.1:{self.port}/stratus"

    def create(self) -> None:
        self.dir.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.dir.parent, "postgres")
            shutil.chown(self.dir, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.dir), "-U", self.USER,
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.start()
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", self.USER, "stratus",
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: nothing here survives the machine, only PostgreSQL's own crash. A
        # commit still waits for its WAL to be written (synchronous_commit stays on): with
        # it off, the crash below loses creates the api had already answered 202 for.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
            "-c max_connections=300"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", str(self.dir / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash (every backend killed, recovery at the next start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            self.stop("immediate")


class PrivateRedis:
    """A redis-server that keeps its data across a restart (an append-only file), as a
    broker in production does."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec",
            ],
            stdout=open(self.dir / "log", "ab"),  # noqa: SIM115 - lives with the process
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait(lambda: port_open(self.port), 10, "redis-server up")

    def stop(self) -> None:
        """SIGTERM, as a service manager restarts it (the append-only file is flushed)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        _wait(lambda: not port_open(self.port), 10, "redis-server down")
