"""The host's cache of base images: each image a guest boots from, fetched once over
HTTP from the image API and kept under `<instances_path>/_base/`.

A fetch is streamed to a temporary file beside the base (never held in memory),
hashed while it arrives and checked against the image's sha512 multihash and
size; only a verified, probed file is renamed into place, so the cache never
holds a partial or corrupted base. A file lock per image (flock, so it holds
between threads and between processes) makes concurrent builds of one image
download it once: the others wait and find it in place.

Bases are kept in the format the image declared when it is raw or qcow2 (the
guest's qcow2 root disk names it as its backing file, with its format); any
other format qemu-img reads is converted to raw once, here. A file whose
content is not the format it declares, or a qcow2 that itself names a backing
file, is refused (the content would decide which host files the guest reads).

Eviction (Nova's image cache manager) removes the bases no guest disk on this
host is backed by and that were last used longer ago than the configured age,
under the same lock, so a base is never removed while a build is using it.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from cloud.payloads import ImageSpec

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Image-Transfer-Token"
CHUNK = 1 << 20
# Connect, and between two reads of the body: a stalled server fails the fetch.
TIMEOUT = (10.0, 60.0)
KEPT_FORMATS = ("raw", "qcow2")


class ImageFetchError(Exception):
    """The image could not be fetched or failed verification; the message is for people."""


@dataclass(frozen=True)
class CachedImage:
    image_id: str
    path: Path
    size: int
    last_used: float


def qemu_img(*args: str, timeout: float = 600) -> str:
    """Run qemu-img; its stdout, or ImageFetchError with what it said."""
    try:
        done = subprocess.run(
            ["qemu-img", *args], check=True, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.CalledProcessError as exc:
        raise ImageFetchError(f"qemu-img {args[0]} failed: {exc.stderr.strip()}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise ImageFetchError(f"qemu-img {args[0]} failed: {exc}") from exc
    return done.stdout


def image_info(path: Path, fmt: str | None = None) -> dict:
    """`qemu-img info` of the file as JSON (its probed format unless `fmt` is given)."""
    # --force-share: a running guest's disk is locked by QEMU; reading its header is safe.
    args = ["info", "--output=json", "--force-share", *(["-f", fmt] if fmt else []), str(path)]
    return json.loads(qemu_img(*args, timeout=60))


def _session() -> requests.Session:
    session = requests.Session()
    retry = Retry(
        total=3,
        backoff_factor=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET"}),
    )
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def upload_file(path: Path, *, url: str, token: str, what: str) -> None:
    """PUT the file to the image API (streamed from disk), with a transfer token."""
    try:
        with path.open("rb") as handle:
            response = _session().put(
                url,
                data=handle,
                headers={
                    TOKEN_HEADER: token,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(path.stat().st_size),
                },
                timeout=TIMEOUT,
            )
    except requests.RequestException as exc:
        raise ImageFetchError(f"{what}: upload failed: {exc}") from exc
    if response.status_code not in (200, 201, 204):
        raise ImageFetchError(
            f"{what}: the image API answered {response.status_code} to the upload "
            f"({response.text[:200]})"
        )


class ImageCache:
    def __init__(self, instances_path: Path) -> None:
        self.directory = instances_path / "_base"
        self.session = _session()

    def base_path(self, image_id: str) -> Path:
        return self.directory / image_id

    @contextlib.contextmanager
    def _locked(self, image_id: str) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / f".{image_id}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def using(self, image: ImageSpec) -> Iterator[tuple[Path, str]]:
        """The cached base of `image` and its format, fetched and verified if not yet
        here; held (eviction waits) until the block that backs a disk with it ends."""
        if not image.download_url:
            raise ImageFetchError(f"image {image.id} has no data to fetch")
        base = self.base_path(image.id)
        with self._locked(image.id):
            if not base.exists():
                self._download(image, base)
            os.utime(base)  # last used: eviction counts from here
            yield base, image_info(base)["format"]

    def _download(self, image: ImageSpec, base: Path) -> None:
        partial = base.with_name(f".{image.id}.part")
        started = time.monotonic()
        try:
            self._stream(image, partial)
            self._check_format(image, partial)
            if image.disk_format not in KEPT_FORMATS:
                raw = base.with_name(f".{image.id}.raw")
                qemu_img("convert", "-q", "-O", "raw", str(partial), str(raw), timeout=3600)
                os.replace(raw, partial)
            os.replace(partial, base)
        finally:
            for leftover in (partial, base.with_name(f".{image.id}.raw")):
                leftover.unlink(missing_ok=True)
        log.info(
            "image %s cached (%d bytes in %.1fs)",
            image.id,
            base.stat().st_size,
            time.monotonic() - started,
        )

    def download_to(self, image: ImageSpec, target: Path) -> None:
        """Fetch and verify `image` into `target`, outside the cache (a guest's own disk)."""
        try:
            self._stream(image, target)
            self._check_format(image, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _stream(self, image: ImageSpec, target: Path) -> None:
        sha512, size = hashlib.sha512(), 0
        try:
            with self.session.get(
                image.download_url,
                headers={TOKEN_HEADER: image.transfer_token},
                stream=True,
                timeout=TIMEOUT,
            ) as response:
                if response.status_code != 200:
                    raise ImageFetchError(
                        f"image {image.id}: the image API answered {response.status_code} "
                        f"to the download ({response.text[:200]})"
                    )
                with target.open("wb") as handle:
                    for chunk in response.iter_content(CHUNK):
                        sha512.update(chunk)
                        size += len(chunk)
                        handle.write(chunk)
        except requests.RequestException as exc:
            raise ImageFetchError(f"image {image.id}: download failed: {exc}") from exc
        if image.os_hash_value and sha512.hexdigest() != image.os_hash_value:
            raise ImageFetchError(
                f"image {image.id} failed verification: its data's sha512 is "
                f"{sha512.hexdigest()[:16]}..., the image records "
                f"{image.os_hash_value[:16]}...; nothing was cached"
            )
        if image.size is not None and size != image.size:
            raise ImageFetchError(
                f"image {image.id}: {size} bytes arrived, the image records {image.size}"
            )

    @staticmethod
    def _check_format(image: ImageSpec, path: Path) -> None:
        info = image_info(path)
        probed = info.get("format", "")
        declared = image.disk_format or probed
        if declared in KEPT_FORMATS and probed != declared:
            raise ImageFetchError(
                f"image {image.id} is declared {declared} but its data is {probed}"
            )
        if info.get("backing-filename") or info.get("full-backing-filename"):
            raise ImageFetchError(f"image {image.id} names a backing file; refused")

    # -- what is cached, eviction ------------------------------------------
    def entries(self) -> list[CachedImage]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            if path.name.startswith(".") or not path.is_file():
                continue
            stat = path.stat()
            found.append(CachedImage(path.name, path, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda e: e.image_id)

    def report(self, in_use: set[Path]) -> list[dict]:
        """The cache as the host's heartbeat tells it (HostReport.image_cache)."""
        return [
            {
                "image_id": entry.image_id,
                "size": entry.size,
                "last_used": datetime.fromtimestamp(entry.last_used, UTC).isoformat(),
                "in_use": entry.path in in_use,
            }
            for entry in self.entries()
        ]

    def evict(self, in_use: Callable[[], set[Path]], max_age: float) -> list[str]:
        """Remove the bases no guest disk is backed by (`in_use()`, asked under each
        base's lock, so a build backing a disk with it meanwhile keeps it) and last used
        more than `max_age` seconds ago. The lock files stay: a waiter holds one."""
        removed = []
        for entry in self.entries():
            with self._locked(entry.image_id):
                try:
                    idle = time.time() - entry.path.stat().st_mtime
                except FileNotFoundError:
                    continue
                if idle < max_age or entry.path in in_use():
                    continue
                entry.path.unlink(missing_ok=True)
            removed.append(entry.image_id)
            log.info("image %s evicted from the cache (unused for %.0fs)", entry.image_id, idle)
        return removed
