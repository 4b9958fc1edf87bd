#!/usr/bin/env python
"""The development stack: every Stratus process on one machine, on embedded defaults.

    python deploy/stack.py run      # foreground, logs interleaved; Ctrl-C stops all
    python deploy/stack.py start    # background; waits until hosts are up
    python deploy/stack.py stop     # stops a background stack
    python deploy/stack.py run --hypervisor qemu   # one host with real QEMU guests

It migrates and seeds the database (SQLite under the var dir unless
DATABASE_URL says otherwise), reuses a Redis on 127.0.0.1:6379 or starts a
private one under the var dir, writes `<var>/clouds.yaml`, and runs the api,
scheduler, conductor, N compute workers (libvirt's test hypervisor), beat
and Flower. Processes are supervised by honcho: if one dies, all stop.

With `--hypervisor qemu` it first makes this machine a QEMU host
(deploy/qemu-host.sh), builds the tiny guest (deploy/guest_image.py, into
`<var>/guest`) and registers it as the image `guest`, then runs a single
compute host, `qemu-1`, on `qemu:///system`.
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


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = Path(args.var_dir).resolve()
        self.run_dir = self.var / "run"
        self.log_dir = self.var / "log"
        if args.hypervisor == "qemu":
            self.hosts = ["qemu-1"]
        else:
            self.hosts = [f"compute-{i}" for i in range(1, args.computes + 1)]

    # -- preparation -------------------------------------------------------
    def broker(self) -> tuple[str, int | None]:
        """The Redis URL to use, and the port of a private redis to start (if any)."""
        if os.environ.get("CELERY_BROKER_URL"):
            return os.environ["CELERY_BROKER_URL"], None
        if self.args.redis == "auto" and _port_open(6379):
            return "redis://127.0.0.1:6379", None
        port = self.args.redis_port or free_port()
        return f"redis://127.0.0.1:{port}", port

    def base_env(self, broker: str) -> dict[str, str]:
        env = dict(os.environ)
        creds = _secrets(self.var)
        env.update(
            STRATUS_VAR_DIR=str(self.var),
            DJANGO_SETTINGS_MODULE="cloud.settings",
            DJANGO_SECRET_KEY=env.get("DJANGO_SECRET_KEY", creds["DJANGO_SECRET_KEY"]),
            PYTHONUNBUFFERED="1",
        )
        if not env.get("CELERY_BROKER_URL"):
            env["CELERY_BROKER_URL"] = f"{broker}/{self.args.redis_db}"
            env["CELERY_RESULT_BACKEND"] = f"{broker}/{self.args.redis_db + 1}"
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
            # The image store snapshots are written to: one for the hosts of this machine.
            COMPUTE_IMAGES_PATH=str(self.var / "images"),
            HEARTBEAT_INTERVAL=str(self.args.heartbeat),
            COMPUTE_DISK_GB=str(disk_gb),
        )
        return compute_env

    # -- processes ---------------------------------------------------------
    def processes(self, env: dict[str, str], redis_port: int | None):
        celery = f"{shlex.quote(PYTHON)} -m celery"
        procs = []
        if redis_port:
            redis_dir = self.var / "redis"
            redis_dir.mkdir(exist_ok=True)
            procs.append(
                (
                    "redis",
                    f"redis-server --port {redis_port} --bind 127.0.0.1 "
                    f"--dir {shlex.quote(str(redis_dir))} --save '' --appendonly no",
                    env,
                )
            )
        procs.append(
            (
                "api",
                f"{shlex.quote(PYTHON)} {ROOT / 'manage.py'} runserver "
                f"127.0.0.1:{self.args.port} --noreload --insecure",
                env,
            )
        )
        procs.append(
            (
                "scheduler",
                f"{celery} -A cloud.celery worker -Q scheduler "
                f"-n scheduler@%h -P threads -c 32 -l INFO",
                env,
            )
        )
        procs.append(
            (
                "conductor",
                f"{celery} -A cloud.celery worker -Q conductor,conductor.heartbeat "
                f"-n conductor@%h -P threads -c 4 -l INFO",
                env,
            )
        )
        for host in self.hosts:
            procs.append(
                (
                    host,
                    f"{celery} -A cloud.workers.app worker -Q compute.{host} "
                    f"-n {host}@%h -P solo -l INFO",
                    self.compute_env(env, host),
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
        if self.args.flower_port:
            procs.append(
                (
                    "flower",
                    f"{celery} -A cloud.celery flower "
                    f"--address=127.0.0.1 --port={self.args.flower_port}",
                    env,
                )
            )
        return procs

    def banner(self, creds: dict[str, str]) -> str:
        port = self.args.port
        lines = [
            "Stratus is starting:",
            f"  API          http://127.0.0.1:{port}/  (compute /compute/v2.1, "
            f"identity /identity/v3, image /image)",
            f"  admin        http://127.0.0.1:{port}/admin/  user admin, "
            f"password {creds['ADMIN_PASSWORD']}",
            f"  API docs     http://127.0.0.1:{port}/api/docs/",
        ]
        if self.args.flower_port:
            lines.append(f"  Flower       http://127.0.0.1:{self.args.flower_port}/")
        lines += [
            f"  demo user    demo / {creds['DEMO_PASSWORD']}",
            f"  clouds.yaml  export OS_CLIENT_CONFIG_FILE={self.var / 'clouds.yaml'} "
            "OS_CLOUD=stratus",
        ]
        return "\n".join(lines)

    def run(self) -> int:
        from honcho.manager import Manager
        from honcho.printer import Printer

        broker, redis_port = self.broker()
        env = self.base_env(broker)
        creds = self.prepare(env)
        print(self.banner(creds), flush=True)
        manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
        for name, cmd, proc_env in self.processes(env, redis_port):
            manager.add_process(name, cmd, env=proc_env, cwd=str(ROOT))
        manager.loop()
        return manager.returncode or 0

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
            # A first QEMU start installs packages and builds the guest before the api runs.
            self.wait_ready(proc, timeout=300 if self.args.hypervisor == "qemu" else 120)
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
        ]
        if a.redis_port:
            argv += ["--redis-port", str(a.redis_port)]
        if a.libvirt_uri:
            argv += ["--libvirt-uri", a.libvirt_uri]
        return argv

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 120) -> None:
        """Until the API answers and every compute host has reported in."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.args.port}/compute/v2.1"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"supervisor exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200 and self._hosts_up():
                        return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"not ready after {timeout:.0f}s")

    def _hosts_up(self) -> bool:
        env = dict(
            os.environ, STRATUS_VAR_DIR=str(self.var), DJANGO_SETTINGS_MODULE="cloud.settings"
        )
        code = (
            "from cloud.hosts.selectors import host_names_schedulable as h;"
            f"import sys; sys.exit(0 if h().count() >= {len(self.hosts)} else 1)"
        )
        result = subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), "shell", "-c", code],
            env=env,
            cwd=ROOT,
            capture_output=True,
        )
        return result.returncode == 0

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["run", "start", "stop"])
    parser.add_argument("--var-dir", default=os.environ.get("STRATUS_VAR_DIR", ROOT / "var"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--flower-port", type=int, default=5555, help="0 disables Flower")
    parser.add_argument("--computes", type=int, default=3)
    parser.add_argument(
        "--redis",
        choices=["auto", "private"],
        default="auto",
        help="auto: reuse 127.0.0.1:6379 when it answers",
    )
    parser.add_argument("--redis-port", type=int, default=0)
    parser.add_argument("--redis-db", type=int, default=0)
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
    args = parser.parse_args(argv)
    stack = Stack(args)
    return {"run": stack.run, "start": stack.start, "stop": stack.stop}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
