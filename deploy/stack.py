#!/usr/bin/env python
"""The development stack: every Stratus process on one machine, on embedded defaults.

    python deploy/stack.py run      # foreground, logs interleaved; Ctrl-C stops all
    python deploy/stack.py start    # background; waits until hosts are up
    python deploy/stack.py stop     # stops a background stack
    python deploy/stack.py run --hypervisor qemu   # one host with real QEMU guests

It migrates and seeds the database (SQLite under the var dir unless
DATABASE_URL says otherwise; a `public` external network and the demo project's
`private` network come with it: manage.py seed_networks), reuses a Redis on
127.0.0.1:6379 or starts a private one under the var dir, writes
`<var>/clouds.yaml`, and runs the api, scheduler, conductor, the network
controller, N compute workers (libvirt's test hypervisor), a network agent per
compute host, a volume worker per `--volume-backends` (file by default: volumes under
`<var>/volumes/file`), beat, Flower and the console proxy (browser consoles of QEMU
guests, on `--console-port`). Processes are supervised by honcho: if one dies, all stop.

Network agents need root (namespaces, Open vSwitch, nftables; deploy/ovs-host.sh
installs and starts what they need). Each simulated host is then a network namespace
with its own Open vSwitch, joined to the others by a fabric (cloud/netagent/simulated.py):
its agent's bridges, VLAN tags, dnsmasq and nftables rules are real, only the guest is
simulated; the agents reach the broker over the private Redis's Unix socket (a
namespace has its own loopback), so the stack then runs a private Redis. The QEMU
host's agent runs on this machine's own switch, where libvirt makes the guests' taps.
Without root the stack runs without agents and says so (`--network-agents off` too).

With `--hypervisor qemu` it first makes this machine a QEMU host
(deploy/qemu-host.sh), builds the tiny guest (deploy/guest_image.py, into
`<var>/guest`) and registers it as the image `guest`, then runs a single
compute host, `qemu-1`, on `qemu:///system`.

With `--shape production` (or STRATUS_SHAPE=production) it runs the production shape
on this machine instead of the embedded defaults: PostgreSQL (DATABASE_URL; else the
machine's own on 127.0.0.1:5432, database `stratus_stack`, made when missing; else a
private cluster under `<var>/postgres`), the api under gunicorn with a worker per core
(and one more) of 4 threads each instead of runserver, and the same Celery workers.
"""

import argparse
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The Celery options of a host's workers (compute, network agent, volume): their heartbeat
# events every 10 s, not 2 (a hundred idle hosts' workers; cloud/messaging.py).
HOST_WORKER_OPTIONS = ("--heartbeat-interval", "10")


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def api_workers() -> int:
    """gunicorn worker processes for this machine: one per core, and one more to keep
    the cores busy while another waits on the database."""
    return _cores() + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _secrets(var: Path) -> dict[str, str]:
    """Per-install secrets, generated once and kept under the var dir."""
    path = var / "secrets.env"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"DJANGO_SECRET_KEY={secrets.token_urlsafe(48)}\n"
            f"ADMIN_PASSWORD={secrets.token_urlsafe(12)}\n"
            f"DEMO_PASSWORD={secrets.token_urlsafe(12)}\n"
        )
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text().split())


def _host_xml(var: Path, host: str, cpus: int, memory_mb: int) -> Path:
    """A libvirt test-driver host description, so simulated hosts have a real size."""
    path = var / "hosts" / f"{host}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    sockets = 2 if cpus % 2 == 0 else 1
    path.write_text(
        "<node>\n"
        f"  <cpu><mhz>2400</mhz><model>x86_64</model><nodes>1</nodes>"
        f"<sockets>{sockets}</sockets><cores>{cpus // sockets}</cores><threads>1</threads>"
        f"<active>{cpus}</active></cpu>\n"
        f"  <memory>{memory_mb * 1024}</memory>\n"
        "</node>\n"
    )
    return path


def _clouds_yaml(var: Path, port: int, creds: dict[str, str]) -> Path:
    auth_url = f"http://127.0.0.1:{port}/identity/v3"
    clouds = []
    for cloud, user in (("stratus", "admin"), ("stratus-demo", "demo")):
        password = creds[f"{user.upper()}_PASSWORD"]
        clouds.append(
            f"  {cloud}:\n"
            f"    auth:\n"
            f"      auth_url: {auth_url}\n"
            f"      username: {user}\n"
            f"      password: {password}\n"
            f"      project_name: {user}\n"
            f"      user_domain_name: Default\n"
            f"      project_domain_name: Default\n"
            f"    region_name: RegionOne\n"
            f"    interface: public\n"
            f"    identity_api_version: 3\n"
        )
    path = var / "clouds.yaml"
    path.write_text("clouds:\n" + "".join(clouds))
    path.chmod(0o600)
    return path


MACHINE_POSTGRES = "postgres://stratus:stratus@127.0.0.1:5432/stratus_stack"
PG_BIN = Path("/usr/lib/postgresql")


def _pg_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, else Debian's newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(PG_BIN.glob("*/bin/" + name), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise SystemExit(f"stack: no PostgreSQL {name} found (apt-get install postgresql)")
    return str(versions[-1])


def database_create(url: str) -> None:
    """Create the database `url` names when it is missing (its role may create one)."""
    import psycopg
    from psycopg import sql

    info = psycopg.conninfo.conninfo_to_dict(url.replace("postgres://", "postgresql://", 1))
    name = info.pop("dbname")
    with psycopg.connect(**info, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class PrivatePostgres:
    """A PostgreSQL cluster of the stack's own under `<var>/postgres`, on a free port,
    reached over its socket in `<var>/run` (trust for the local user only)."""

    def __init__(self, var: Path, port: int) -> None:
        self.data = var / "postgres"
        self.socket_dir = var / "run"
        self.port = port
        self.proc: subprocess.Popen | None = None
        # PostgreSQL refuses to run as root: the cluster is the postgres user's then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://stratus@/stratus?host={self.socket_dir}&port={self.port}"

    def _own(self, path: Path) -> None:
        if self.as_user:
            shutil.chown(path, "postgres", "postgres")

    def start(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o1777 if self.as_user else 0o700)
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            self._own(self.data)
            subprocess.run(
                [
                    *self.as_user,
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "stratus",
                    "--auth=trust",
                    "--no-instructions",
                    "-E",
                    "UTF8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        self.proc = subprocess.Popen(
            [
                *self.as_user,
                _pg_bin("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.socket_dir),
                "-c",
                "listen_addresses=",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=off" if os.environ.get("STACK_PG_FSYNC") == "off" else "fsync=on",
                "-c",
                "synchronous_commit=off",
                # Where a boot's queries go: SELECT * FROM pg_stat_statements.
                "-c",
                "shared_preload_libraries=pg_stat_statements",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.data.parent / "log" / "postgres.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [_pg_bin("pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port)]
            )
            if ready.returncode == 0:
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"stack: PostgreSQL exited; see {self.data.parent / 'log'}")
            time.sleep(0.3)
        self._client("createdb", check=False)
        self._client("psql", "-q", "-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def _client(self, program: str, *argv: str, check: bool = True) -> None:
        """A PostgreSQL client program on the cluster's `stratus` database, as its
        `stratus` superuser."""
        where = ["-h", str(self.socket_dir), "-p", str(self.port), "-U", "stratus"]
        subprocess.run(
            [_pg_bin(program), *where, *argv, "stratus"],
            check=check,
            stderr=None if check else subprocess.DEVNULL,
        )

    @staticmethod
    def stop_left(var: Path) -> None:
        """Stop a private cluster still running (its supervisor was killed before it
        could): it is in a session of its own, out of reach of the supervisor's group."""
        pid_file = var / "postgres" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)
        except (OSError, ValueError, IndexError):
            return
        deadline = time.monotonic() + 30
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # SIGINT: PostgreSQL's fast shutdown.
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = Path(args.var_dir).resolve()
        self.run_dir = self.var / "run"
        self.log_dir = self.var / "log"
        # The hosts whose network agent runs (written by `run` for `start` to wait on).
        self.agents_file = self.run_dir / "network-agents"
        self.fabric = None
        if args.hypervisor == "qemu":
            self.hosts = ["qemu-1"]
        else:
            self.hosts = [f"compute-{i}" for i in range(1, args.computes + 1)]
        self.volume_backends = [b for b in args.volume_backends.split(",") if b]
        self.postgres: PrivatePostgres | None = None

    @property
    def production(self) -> bool:
        return self.args.shape == "production"

    # -- preparation -------------------------------------------------------
    def database(self) -> str | None:
        """The production shape's PostgreSQL URL (a private cluster started when the
        machine has none); None in the development shape (DATABASE_URL or SQLite)."""
        if not self.production:
            return None
        url = os.environ.get("DATABASE_URL", "")
        if url and self.args.postgres == "auto":
            if not url.startswith(("postgres://", "postgresql://")):
                raise SystemExit(f"stack: the production shape runs on PostgreSQL, not {url}")
            database_create(url)
            return url
        if self.args.postgres == "auto" and _port_open(5432):
            import psycopg

            try:
                database_create(MACHINE_POSTGRES)
                return MACHINE_POSTGRES
            except psycopg.OperationalError as exc:
                # A fresh machine's PostgreSQL has no `stratus` role until
                # deploy/test-services.sh (make test) makes one.
                print(f"stack: the machine's PostgreSQL refused us ({exc}); a private one")
        self.postgres = PrivatePostgres(self.var, self.args.postgres_port or free_port())
        self.postgres.start()
        return self.postgres.url

    def broker(self) -> tuple[str, int | None]:
        """The Redis URL to use, and the port of a private redis to start (if any)."""
        if os.environ.get("CELERY_BROKER_URL"):
            return os.environ["CELERY_BROKER_URL"], None
        namespaced = self.args.hypervisor == "test" and not self.network_agents_blocked()
        if self.args.redis == "auto" and not namespaced and _port_open(6379):
            return "redis://127.0.0.1:6379", None
        port = self.args.redis_port or free_port()
        return f"redis://127.0.0.1:{port}", port

    def base_env(self, broker: str, database: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        creds = _secrets(self.var)
        if database:
            env["DATABASE_URL"] = database
        env.update(
            STRATUS_VAR_DIR=str(self.var),
            DJANGO_SETTINGS_MODULE="cloud.settings",
            DJANGO_SECRET_KEY=env.get("DJANGO_SECRET_KEY", creds["DJANGO_SECRET_KEY"]),
            IMAGE_API_URL=env.get("IMAGE_API_URL", f"http://127.0.0.1:{self.args.port}/image"),
            PYTHONUNBUFFERED="1",
            # The console proxy, and the URLs of it the API hands out.
            CONSOLE_PROXY_HOST="127.0.0.1",
            CONSOLE_PROXY_PORT=str(self.args.console_port),
        )
        if len(self.hosts) == 1:
            # One host (the QEMU stack): a resize stays on it, as devstack's single node.
            env.setdefault("ALLOW_RESIZE_TO_SAME_HOST", "true")
        for name in ("CONSOLE_NOVNC_BASE_URL", "CONSOLE_SPICE_BASE_URL", "CONSOLE_SERIAL_BASE_URL"):
            env.pop(name, None)
        if not env.get("CELERY_BROKER_URL"):
            env["CELERY_BROKER_URL"] = f"{broker}/{self.args.redis_db}"
            env["CELERY_RESULT_BACKEND"] = f"{broker}/{self.args.redis_db + 1}"
            env.setdefault("CACHE_URL", f"{broker}/{self.args.redis_db + 2}")
        elif env["CELERY_BROKER_URL"].startswith("redis"):
            # The api processes share Django's cache (login failure counters) in Redis.
            env.setdefault("CACHE_URL", env["CELERY_BROKER_URL"])
        return env

    def prepare(self, env: dict[str, str]) -> dict[str, str]:
        for path in (self.var, self.run_dir, self.log_dir, self.var / "instances"):
            path.mkdir(parents=True, exist_ok=True)
        creds = _secrets(self.var)
        manage = [PYTHON, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], env=env, check=True)
        subprocess.run(
            [
                *manage,
                "seed",
                # `=` form: a generated password may start with "-"
                f"--admin-password={creds['ADMIN_PASSWORD']}",
                f"--demo-password={creds['DEMO_PASSWORD']}",
            ],
            env=env,
            check=True,
        )
        subprocess.run([*manage, "seed_networks"], env=env, check=True)
        if self.args.hypervisor == "qemu":
            self.prepare_qemu(env)
        _clouds_yaml(self.var, self.args.port, creds)
        return creds

    def prepare_qemu(self, env: dict[str, str]) -> None:
        """This machine as a QEMU host, and the guest image built and registered."""
        subprocess.run([str(ROOT / "deploy" / "qemu-host.sh")], env=env, check=True)
        guest = self.var / "guest"
        subprocess.run(
            [PYTHON, str(ROOT / "deploy" / "guest_image.py"), "--out", str(guest)],
            env=env,
            check=True,
        )
        subprocess.run(
            [
                PYTHON,
                str(ROOT / "manage.py"),
                "register_guest_image",
                "--kernel",
                str(guest / "vmlinux"),
                "--ramdisk",
                str(guest / "initrd.img"),
            ],
            env=env,
            check=True,
        )

    # -- network agents ------------------------------------------------------
    @property
    def redis_socket(self) -> Path:
        return self.run_dir / "redis.sock"

    @property
    def netns_prefix(self) -> str:
        """This stack's namespaces (the api port: unique among the stacks running here)."""
        return f"st{self.args.port}-"

    def network_agents_blocked(self) -> str:
        """Why no network agent can run here; "" when they can."""
        if self.args.network_agents == "off":
            return "--network-agents off"
        if os.geteuid() != 0:
            return (
                "the network agents need root (network namespaces, Open vSwitch, nftables): "
                "run the stack as root, as the README's `make run` does"
            )
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if self.args.hypervisor == "test" and broker and not broker.startswith("redis+socket"):
            return (
                "CELERY_BROKER_URL is set: agents in the simulated hosts' namespaces reach "
                "the broker only over a Unix socket (redis+socket://), not over loopback"
            )
        return ""

    def network_agents_up(self) -> list[str]:
        """Make the hosts' switches (and the fabric of the simulated hosts); the hosts
        whose agent can run. Without root or Open vSwitch: a clear word, and none."""
        self.agents_file.unlink(missing_ok=True)
        reason = self.network_agents_blocked()
        if not reason:
            try:
                if self.args.hypervisor == "qemu":
                    subprocess.run([str(ROOT / "deploy" / "ovs-host.sh")], check=True, timeout=600)
                else:
                    sys.path.insert(0, str(ROOT))
                    from cloud.netagent.simulated import Fabric

                    self.fabric = Fabric(self.netns_prefix, self.var / "network", self.hosts)
                    self.fabric_file.write_text(self.netns_prefix)
                    self.fabric.up()
            except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
                reason = f"Open vSwitch is not available here ({exc}); see deploy/ovs-host.sh"
                self.network_agents_down()
        if reason:
            if self.args.network_agents == "on":
                raise SystemExit(f"network agents: {reason}")
            print(
                f"network agents: not started: {reason}. Servers get their ports and "
                "addresses, but no host wires them.",
                flush=True,
            )
            return []
        self.agents_file.write_text("".join(f"{host}\n" for host in self.hosts))
        where = (
            f"each host a network namespace {self.netns_prefix}<host> with its own Open vSwitch"
            if self.fabric is not None
            else "on this machine's Open vSwitch (br-int)"
        )
        print(f"network agents: {', '.join(self.hosts)}, {where}", flush=True)
        return list(self.hosts)

    @property
    def fabric_file(self) -> Path:
        """The namespace prefix of the simulated hosts' fabric while it is up."""
        return self.run_dir / "fabric"

    def network_agents_down(self) -> None:
        if self.fabric is not None:
            self.fabric.down()
            self.fabric = None
            self.fabric_file.unlink(missing_ok=True)

    def fabric_left(self) -> None:
        """Take down the switches and namespaces of a supervisor killed before it could:
        100 hosts' ovs-vswitchd and ovsdb-server, left running, cost a tenth of a core."""
        if not self.fabric_file.exists():
            return
        sys.path.insert(0, str(ROOT))
        from cloud.netagent.simulated import Fabric

        Fabric(self.fabric_file.read_text(), self.var / "network", []).down()
        self.fabric_file.unlink(missing_ok=True)

    def agent_process(self, env: dict[str, str], host: str) -> tuple[str, str, dict[str, str]]:
        """A host's network agent: no database; on a simulated host inside its namespace."""
        agent_env = {
            k: v for k, v in env.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        agent_env["NETWORK_AGENT_HEARTBEAT"] = str(self.args.heartbeat)
        args = ["-l", "INFO", *HOST_WORKER_OPTIONS]
        if self.fabric is not None:
            agent_env.update(self.fabric.agent_env(host))
            if not os.environ.get("CELERY_BROKER_URL"):
                socket_url = f"redis+socket://{self.redis_socket}?virtual_host="
                agent_env["CELERY_BROKER_URL"] = f"{socket_url}{self.args.redis_db}"
                agent_env["CELERY_RESULT_BACKEND"] = f"{socket_url}{self.args.redis_db + 1}"
            argv = self.fabric.agent_argv(host, PYTHON, *args)
        else:
            agent_env.update(
                NETWORK_AGENT_HOST=host,
                NETWORK_AGENT_STATE_PATH=str(self.var / "network" / host / "state"),
                NETWORK_NAMESPACE_PREFIX=self.netns_prefix,
            )
            argv = [
                PYTHON, "-m", "celery", "-A", "cloud.netagent.app", "worker", "-P", "solo",
                "-Q", f"network.{host}", "-n", f"netagent-{host}@%h",
                "--without-mingle", "--without-gossip", *args,
            ]  # fmt: skip
        return f"netagent-{host}", shlex.join(argv), agent_env

    def compute_env(self, env: dict[str, str], host: str) -> dict[str, str]:
        """A compute worker's environment: no database, its libvirt URI and paths."""
        compute_env = {
            k: v for k, v in env.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        instances = self.var / "instances" / host
        if self.args.hypervisor == "qemu":
            uri = "qemu:///system"
            # Real guests take real disk: report what the instances' filesystem holds.
            instances.mkdir(parents=True, exist_ok=True)
            disk_gb = shutil.disk_usage(instances).total // 1024**3
        else:
            uri = self.args.libvirt_uri or "test://" + str(
                _host_xml(self.var, host, self.args.host_cpus, self.args.host_memory_mb)
            )
            disk_gb = self.args.host_disk_gb
        compute_env.update(
            COMPUTE_HOST=host,
            LIBVIRT_URI=uri,
            COMPUTE_INSTANCES_PATH=str(instances),
            HEARTBEAT_INTERVAL=str(self.args.heartbeat),
            COMPUTE_DISK_GB=str(disk_gb),
        )
        return compute_env

    def volume_env(self, env: dict[str, str], backend: str) -> dict[str, str]:
        """A volume worker's environment: no database; its backend's directory (the file
        backend's is the one every simulated host reads its volumes from)."""
        volume_env = {
            k: v for k, v in env.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        volume_env.update(
            VOLUME_BACKEND=backend,
            VOLUME_DRIVER=backend if backend in ("file", "nbd") else "file",
            VOLUME_HOST=f"volume-{backend}",
            VOLUME_PATH=str(self.var / "volumes" / backend),
            VOLUME_HEARTBEAT_INTERVAL=str(self.args.heartbeat),
        )
        return volume_env

    # -- processes ---------------------------------------------------------
    def processes(self, env: dict[str, str], redis_port: int | None, agents: list[str] = ()):
        celery = f"{shlex.quote(PYTHON)} -m celery"
        # No gossip or mingle between workers (as the systemd units): nothing here uses
        # them, and with a worker per host every worker would read every other's events.
        alone = "--without-gossip --without-mingle"
        # A host's workers, many and mostly idle, send Celery's heartbeat events less often.
        host_alone = f"{alone} {shlex.join(HOST_WORKER_OPTIONS)}"
        procs = []
        if redis_port:
            redis_dir = self.var / "redis"
            redis_dir.mkdir(exist_ok=True)
            # The Unix socket: how agents inside the simulated hosts' namespaces reach it.
            procs.append(
                (
                    "redis",
                    f"redis-server --port {redis_port} --bind 127.0.0.1 "
                    f"--unixsocket {shlex.quote(str(self.redis_socket))} --unixsocketperm 700 "
                    f"--dir {shlex.quote(str(redis_dir))} --save '' --appendonly no",
                    env,
                )
            )
        procs.append(("api", self.api_command(), env))
        procs.append(
            (
                "scheduler",
                f"{celery} -A cloud.celery worker -Q scheduler "
                f"-n scheduler@%h -P threads -c 32 -l INFO {alone}",
                env,
            )
        )
        procs.append(
            (
                "conductor",
                f"{celery} -A cloud.celery worker -Q conductor,conductor.heartbeat "
                f"-n conductor@%h -P threads -c 8 -l INFO {alone}",
                env,
            )
        )
        procs.append(
            (
                "network",
                f"{celery} -A cloud.celery worker -Q network -n network@%h -P threads -c 4 "
                f"-l INFO {alone}",
                env,
            )
        )
        for host in self.hosts:
            procs.append(
                (
                    host,
                    f"{celery} -A cloud.workers.app worker -Q compute.{host} "
                    f"-n {host}@%h -P solo -l INFO {host_alone}",
                    self.compute_env(env, host),
                )
            )
        for host in agents:
            procs.append(self.agent_process(env, host))
        for backend in self.volume_backends:
            procs.append(
                (
                    f"volume-{backend}",
                    f"{celery} -A cloud.volumeworker.app worker -Q volume.{backend} "
                    f"-n volume-{backend}@%h -P threads -c 4 -l INFO {host_alone}",
                    self.volume_env(env, backend),
                )
            )
        procs.append(
            (
                "beat",
                f"{celery} -A cloud.celery beat -l INFO "
                f"-s {shlex.quote(str(self.run_dir / 'celerybeat-schedule'))}",
                env,
            )
        )
        procs.append(
            (
                "console-proxy",
                f"{shlex.quote(PYTHON)} -m cloud.consoles.proxy "
                f"--host 127.0.0.1 --port {self.args.console_port}",
                env,
            )
        )
        if self.args.flower_port:
            procs.append(
                (
                    "flower",
                    f"{shlex.quote(PYTHON)} -m cloud.operators.flower "
                    f"--address=127.0.0.1 --port={self.args.flower_port}",
                    env,
                )
            )
        return procs

    def api_command(self) -> str:
        """runserver in the development shape; gunicorn (as the stratus-api unit runs it,
        static files by WhiteNoise) in the production shape."""
        if not self.production:
            return (
                f"{shlex.quote(PYTHON)} {ROOT / 'manage.py'} runserver "
                f"127.0.0.1:{self.args.port} --noreload --insecure"
            )
        return (
            f"{shlex.quote(PYTHON)} -m gunicorn cloud.wsgi:application "
            f"--bind 127.0.0.1:{self.args.port} --workers {self.args.api_workers or api_workers()} "
            "--threads 4 --timeout 60 --config python:cloud.operators.gunicorn "
            # Its own control socket: another stack's gunicorn on this machine has one too.
            f"--control-socket {shlex.quote(str(self.run_dir / 'gunicorn.ctl'))}"
        )

    def banner(self, creds: dict[str, str]) -> str:
        port = self.args.port
        # Passwords only on a terminal: `make start` writes this to the stack's log, and
        # no password goes into a log line; there it names the file that holds them.
        shown = sys.stdout.isatty()
        kept = f"(password in {self.var / 'secrets.env'})"
        admin = f"password {creds['ADMIN_PASSWORD']}" if shown else kept
        demo = f"demo / {creds['DEMO_PASSWORD']}" if shown else f"demo {kept}"
        lines = [
            "Stratus is starting:",
            f"  API          http://127.0.0.1:{port}/  (compute /compute/v2.1, "
            f"identity /identity/v3, image /image, network /network, volume /volume/v3)",
            f"  admin        http://127.0.0.1:{port}/admin/  user admin, {admin}",
            f"  API docs     http://127.0.0.1:{port}/api/docs/",
        ]
        if self.args.flower_port:
            lines.append(f"  Flower       http://127.0.0.1:{self.args.flower_port}/")
        lines.append(
            f"  consoles     http://127.0.0.1:{self.args.console_port}/  "
            "(`openstack console url show --novnc SERVER` on QEMU guests)"
        )
        lines += [
            f"  demo user    {demo}",
            f"  clouds.yaml  export OS_CLIENT_CONFIG_FILE={self.var / 'clouds.yaml'} "
            "OS_CLOUD=stratus",
        ]
        return "\n".join(lines)

    def run(self) -> int:
        from honcho.manager import Manager
        from honcho.printer import Printer

        broker, redis_port = self.broker()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            env = self.base_env(broker, self.database())
            self.database_file.unlink(missing_ok=True)
            if self.production:
                # For `start`, which waits for the hosts in this database.
                self.database_file.touch(0o600)
                self.database_file.write_text(env["DATABASE_URL"])
            creds = self.prepare(env)
            # Stopped while the hosts' switches come up: take them down again (the loop
            # below installs its own handlers).
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
            agents = self.network_agents_up()
            print(self.banner(creds), flush=True)
            manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
            for name, cmd, proc_env in self.processes(env, redis_port, agents):
                manager.add_process(name, cmd, env=proc_env, cwd=str(ROOT))
            manager.loop()
            return manager.returncode or 0
        finally:
            self.network_agents_down()
            if self.postgres:
                self.postgres.stop()

    # -- background control --------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.run_dir / "stack.pid"

    def start(self) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.pid_file.exists() and _alive(int(self.pid_file.read_text())):
            print(f"already running (pid {self.pid_file.read_text().strip()})")
            return 0
        if self.args.redis == "private" and not self.args.redis_port:
            self.args.redis_port = free_port()
        self.agents_file.unlink(missing_ok=True)
        started = time.time()
        argv = [PYTHON, str(Path(__file__).resolve()), "run", *self._forward_args()]
        with open(self.log_dir / "stack.log", "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        try:
            # A first QEMU start installs packages and builds the guest before the api runs;
            # a fresh database is migrated first (minutes on a busy machine), simulated
            # hosts' switches take seconds each, and each simulated host is a worker
            # process to start (about a second of CPU).
            timeout = self.args.ready_timeout or (
                300 if self.args.hypervisor == "qemu" else 300 + 3 * len(self.hosts)
            )
            self.wait_ready(proc, started, timeout=timeout)
        except RuntimeError as exc:
            print(f"stack failed to start: {exc}; see {self.log_dir / 'stack.log'}")
            self.stop()
            return 1
        print(f"started (pid {proc.pid}); logs in {self.log_dir / 'stack.log'}")
        print(f"  export OS_CLIENT_CONFIG_FILE={self.var / 'clouds.yaml'} OS_CLOUD=stratus")
        return 0

    def _forward_args(self) -> list[str]:
        a = self.args
        argv = [
            "--var-dir",
            str(self.var),
            "--port",
            str(a.port),
            "--computes",
            str(a.computes),
            "--flower-port",
            str(a.flower_port),
            "--console-port",
            str(a.console_port),
            "--redis",
            a.redis,
            "--redis-db",
            str(a.redis_db),
            "--heartbeat",
            str(a.heartbeat),
            "--host-cpus",
            str(a.host_cpus),
            "--host-memory-mb",
            str(a.host_memory_mb),
            "--host-disk-gb",
            str(a.host_disk_gb),
            "--hypervisor",
            a.hypervisor,
            "--network-agents",
            a.network_agents,
            "--shape",
            a.shape,
            "--api-workers",
            str(a.api_workers),
            "--postgres-port",
            str(a.postgres_port),
            "--postgres",
            a.postgres,
            "--volume-backends",
            a.volume_backends,
        ]
        if a.redis_port:
            argv += ["--redis-port", str(a.redis_port)]
        if a.libvirt_uri:
            argv += ["--libvirt-uri", a.libvirt_uri]
        return argv

    def wait_ready(self, proc: subprocess.Popen, started: float, timeout: float = 120) -> None:
        """Until the API answers, every compute host has reported in, and so has the
        network agent of each host that runs one (since `started`), and every volume
        backend: `manage.py wait_services`, one process polling the database."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.args.port}/compute/v2.1"
        while not self._answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"supervisor exited with {proc.returncode}")
            if time.monotonic() >= deadline:
                raise RuntimeError(f"not ready after {timeout:.0f}s: the api does not answer")
            time.sleep(1)
        env = dict(
            os.environ, STRATUS_VAR_DIR=str(self.var), DJANGO_SETTINGS_MODULE="cloud.settings"
        )
        if self.database_file.exists():
            env["DATABASE_URL"] = self.database_file.read_text()
        agents = self.agents_file.read_text().split() if self.agents_file.exists() else []
        waiting = subprocess.Popen(
            [PYTHON, str(ROOT / "manage.py"), "wait_services"]
            + ["--hosts", str(len(self.hosts)), "--agents", *agents]
            + ["--volume-backends", str(len(self.volume_backends))]
            + ["--since", str(started), "--timeout", str(max(deadline - time.monotonic(), 1))],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while waiting.poll() is None:
            if proc.poll() is not None:
                waiting.kill()
                waiting.wait()
                raise RuntimeError(f"supervisor exited with {proc.returncode}")
            time.sleep(0.5)
        said = waiting.stdout.read().strip() if waiting.stdout else ""
        if waiting.returncode != 0:
            raise RuntimeError(said.splitlines()[-1] if said else f"not ready after {timeout:.0f}s")

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    @property
    def database_file(self) -> Path:
        return self.run_dir / "database.url"

    def stop(self) -> int:
        if not self.pid_file.exists():
            print("not running")
            return 0
        pid = int(self.pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        self.fabric_left()
        PrivatePostgres.stop_left(self.var)
        self.pid_file.unlink(missing_ok=True)
        print("stopped")
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def arguments() -> argparse.ArgumentParser:
    """The stack's command line (tests build a Stack from it too)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["run", "start", "stop"])
    parser.add_argument("--var-dir", default=os.environ.get("STRATUS_VAR_DIR", ROOT / "var"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--flower-port", type=int, default=5555, help="0 disables Flower")
    parser.add_argument("--console-port", type=int, default=6080, help="the console proxy")
    parser.add_argument("--computes", type=int, default=3)
    parser.add_argument(
        "--redis",
        choices=["auto", "private"],
        default="auto",
        help="auto: reuse 127.0.0.1:6379 when it answers",
    )
    parser.add_argument("--redis-port", type=int, default=0)
    parser.add_argument("--redis-db", type=int, default=0)
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=0,
        help="seconds `start` waits for the api and hosts (default 300, and 3 per simulated host)",
    )
    parser.add_argument("--heartbeat", type=float, default=10.0)
    parser.add_argument("--host-cpus", type=int, default=32)
    parser.add_argument("--host-memory-mb", type=int, default=65536)
    parser.add_argument("--host-disk-gb", type=int, default=1000)
    parser.add_argument(
        "--libvirt-uri",
        default="",
        help="default: a test:/// host file per compute under the var dir",
    )
    parser.add_argument(
        "--hypervisor",
        choices=["test", "qemu"],
        default=os.environ.get("HYPERVISOR") or "test",
        help="test: simulated hosts (libvirt's test driver); qemu: one host running real "
        "QEMU guests on qemu:///system (set up here; root needed)",
    )
    parser.add_argument(
        "--network-agents",
        choices=["auto", "on", "off"],
        default=os.environ.get("NETWORK_AGENTS") or "auto",
        help="a network agent per compute host (root needed); auto: when this machine "
        "allows, else a message; on: fail when it does not",
    )
    parser.add_argument(
        "--shape",
        choices=["dev", "production"],
        default=os.environ.get("STRATUS_SHAPE") or "dev",
        help="dev: embedded defaults (SQLite unless DATABASE_URL, runserver); production: "
        "PostgreSQL (DATABASE_URL, else this machine's on 5432, else a private cluster) "
        "and gunicorn",
    )
    parser.add_argument(
        "--api-workers", type=int, default=0, help="gunicorn workers (default: cores + 1)"
    )
    parser.add_argument(
        "--postgres",
        choices=["auto", "private"],
        default="auto",
        help="the production shape's PostgreSQL; auto: DATABASE_URL, else this machine's "
        "on 5432; private: a cluster under the var dir",
    )
    parser.add_argument(
        "--postgres-port", type=int, default=0, help="a private cluster's port (default free)"
    )
    parser.add_argument(
        "--volume-backends",
        default=os.environ.get("VOLUME_BACKENDS", "file"),
        help="the volume workers to run, one per backend (file, nbd; comma-separated; "
        "empty: none). A volume type picks one with volume_backend_name",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    stack = Stack(args)
    return {"run": stack.run, "start": stack.start, "stop": stack.stop}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
