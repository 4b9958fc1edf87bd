"""The filesystem image store: one file per image in a directory (IMAGE_STORE_DIR).

An upload is written to `<dir>/.incoming/<id>.<random>`, hashed on the way,
verified, then renamed to `<dir>/<id>` (rename is atomic within a filesystem);
whatever fails on the way removes the temporary file. Reads accept any file://
location, so images registered in place (a host's guest kernel) are served too.
"""

import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from cloud.images.stores.base import (
    ImageStore,
    StoredImage,
    StoreError,
    StoreLimitExceeded,
    Verifier,
)

CHUNK = 1 << 20


def _path(location: str) -> Path:
    url = urlparse(location)
    if url.scheme != "file" or not url.path:
        raise StoreError(f"not a file location: {location}")
    return Path(unquote(url.path))


class FilesystemStore(ImageStore):
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _incoming(self) -> Path:
        incoming = self.directory / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        return incoming

    def add(
        self,
        image_id: str,
        chunks: Iterable[bytes],
        *,
        limit: int | None = None,
        verify: Verifier | None = None,
    ) -> StoredImage:
        final = self.directory / str(image_id)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{image_id}.", dir=self._incoming())
        tmp = Path(tmp_name)
        md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
        try:
            with os.fdopen(fd, "wb") as handle, ThreadPoolExecutor(2) as hashers:
                # Both digests of a chunk run in threads (hashlib lets go of the GIL) while
                # the chunk is written and the next one read; one chunk in flight at most.
                pending: list[Future] = []
                for chunk in chunks:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise StoreLimitExceeded(f"image data exceeds {limit} bytes")
                    for future in pending:
                        future.result()
                    pending = [
                        hashers.submit(md5.update, chunk),
                        hashers.submit(sha512.update, chunk),
                    ]
                    handle.write(chunk)
                for future in pending:
                    future.result()
                handle.flush()
                os.fsync(handle.fileno())
            if verify is not None:
                verify(tmp, size)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredImage(
            location=final.as_uri(),
            size=size,
            checksum=md5.hexdigest(),
            os_hash_value=sha512.hexdigest(),
        )

    def get(self, location: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = _path(location)
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise StoreError(f"image data unreadable: {exc}") from exc
        return self._read(handle, offset, length)

    @staticmethod
    def _read(handle, offset: int, length: int | None) -> Iterator[bytes]:
        with handle:
            handle.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                step = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = handle.read(step)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, location: str) -> None:
        _path(location).unlink(missing_ok=True)

    def purge_incoming(self, *, older_than: float) -> int:
        incoming = self.directory / ".incoming"
        if not incoming.is_dir():
            return 0
        cutoff, removed = time.time() - older_than, 0
        for path in incoming.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def owns(self, location: str) -> bool:
        try:
            path = _path(location)
        except StoreError:
            return False
        return path.parent == self.directory

    def exists(self, location: str) -> bool:
        try:
            return _path(location).is_file()
        except StoreError:
            return False
