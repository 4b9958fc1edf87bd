"""Image data through the image API: upload and download throughput of one big image
(1 GiB by default) and the API process's peak memory while it streams.

    .venv/bin/python bench/image_transfer.py                 # 1 GiB, gunicorn, own var dir
    .venv/bin/python bench/image_transfer.py --size-mb 256 --server runserver

It prepares a fresh var dir (SQLite database, `manage.py migrate` and `seed`), starts
the API alone on a free port (gunicorn with one worker process and 4 threads, as
deploy/systemd runs it, or `manage.py runserver`), signs in as the seeded demo user,
creates a raw image, uploads a file of random bytes with `PUT .../file` (streamed by
requests with a Content-Length, as the SDK sends it), and downloads it back with
`GET .../file`, checking the SHA-512 against the image's os_hash_value. Peak memory is
the API process's VmHWM from /proc (its peak resident set), read before the transfers
(after a warm-up request) and after each. Prints the figures, then one JSON line.
"""

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_python() -> str:
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def log(message: str) -> None:
    print(f"[image-transfer] {message}", file=sys.stderr, flush=True)


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


class Api:
    """The API process alone, in a fresh var dir, on a free port."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = Path(tempfile.mkdtemp(prefix="stratus-image-bench-"))
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        }
        self.env.update(
            STRATUS_VAR_DIR=str(self.var),
            DJANGO_SETTINGS_MODULE="cloud.settings",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
            IMAGE_QUOTA_SIZE_MB="-1",
            PYTHONUNBUFFERED="1",
        )
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        manage = [venv_python(), str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=self.env, check=True)
        subprocess.run(
            [
                *manage,
                "seed",
                f"--admin-password={self.password}",
                f"--demo-password={self.password}",
            ],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if self.args.server == "gunicorn":
            cmd = [
                str(Path(venv_python()).parent / "gunicorn"),
                "cloud.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "600",
            ]
        else:
            cmd = [*manage, "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        logfile = (self.var / "api.log").open("w")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=logfile, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/image", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"the API did not start; see {self.var / 'api.log'}")

    @property
    def worker_pid(self) -> int:
        """The process serving requests (gunicorn's one worker, or runserver itself)."""
        assert self.proc is not None
        if self.args.server == "gunicorn":
            return children(self.proc.pid)[0]
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.var, ignore_errors=True)


def token(base: str, password: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "demo", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}},
        }
    }
    reply = requests.post(f"{base}/identity/v3/auth/tokens", json=body, timeout=30)
    reply.raise_for_status()
    return reply.headers["X-Subject-Token"]


def make_file(path: Path, size: int) -> str:
    """A file of `size` random bytes; its SHA-512."""
    digest = hashlib.sha512()
    block = os.urandom(CHUNK)
    with path.open("wb") as handle:
        left = size
        while left:
            chunk = block[: min(CHUNK, left)]
            digest.update(chunk)
            handle.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def run(args: argparse.Namespace) -> dict:
    size = args.size_mb * 1024 * 1024
    api = Api(args)
    work = Path(tempfile.mkdtemp(prefix="stratus-image-data-"))
    try:
        source = work / "image.raw"
        log(f"writing {args.size_mb} MiB of random data")
        expected = make_file(source, size)
        log(f"starting the API ({args.server}) on port {api.port}")
        api.start()
        headers = {"X-Auth-Token": token(api.base, api.password)}
        images = f"{api.base}/image/v2/images"
        created = requests.post(
            images,
            json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
            headers=headers,
            timeout=30,
        )
        created.raise_for_status()
        image_id = created.json()["id"]
        pid = api.worker_pid
        rss_idle = vm_kib(pid, "VmHWM")

        log("uploading")
        t0 = time.monotonic()
        with source.open("rb") as handle:
            put = requests.put(
                f"{images}/{image_id}/file",
                data=handle,
                headers={**headers, "Content-Type": "application/octet-stream"},
                timeout=600,
            )
        upload_s = time.monotonic() - t0
        put.raise_for_status()
        rss_upload = vm_kib(pid, "VmHWM")
        shown = requests.get(f"{images}/{image_id}", headers=headers, timeout=30).json()
        assert shown["status"] == "active" and shown["size"] == size, shown
        assert shown["os_hash_value"] == expected, "the stored multihash differs"

        log("downloading")
        digest, received = hashlib.sha512(), 0
        t0 = time.monotonic()
        with requests.get(
            f"{images}/{image_id}/file", headers=headers, stream=True, timeout=600
        ) as got:
            got.raise_for_status()
            for chunk in got.iter_content(CHUNK):
                digest.update(chunk)
                received += len(chunk)
        download_s = time.monotonic() - t0
        assert received == size and digest.hexdigest() == expected, "downloaded bytes differ"
        rss_download = vm_kib(pid, "VmHWM")
        mb = size / 1e6
        return {
            "server": args.server,
            "size_mib": args.size_mb,
            "upload_s": round(upload_s, 2),
            "upload_mb_s": round(mb / upload_s, 1),
            "download_s": round(download_s, 2),
            "download_mb_s": round(mb / download_s, 1),
            "api_peak_rss_mib_before": round(rss_idle / 1024, 1),
            "api_peak_rss_mib_after_upload": round(rss_upload / 1024, 1),
            "api_peak_rss_mib_after_download": round(rss_download / 1024, 1),
        }
    finally:
        api.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="image size in MiB (1024)")
    parser.add_argument("--server", choices=("gunicorn", "runserver"), default="gunicorn")
    args = parser.parse_args()
    result = run(args)
    print(
        f"{result['size_mib']} MiB through {result['server']}: "
        f"upload {result['upload_mb_s']} MB/s ({result['upload_s']} s, hashed, probed, fsynced), "
        f"download {result['download_mb_s']} MB/s ({result['download_s']} s); "
        f"API peak RSS {result['api_peak_rss_mib_before']} MiB before, "
        f"{result['api_peak_rss_mib_after_upload']} MiB after upload, "
        f"{result['api_peak_rss_mib_after_download']} MiB after download"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
