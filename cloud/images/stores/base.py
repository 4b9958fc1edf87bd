"""The image store contract every backend implements.

A store keeps the bytes of images, addressed by a location URL it hands out
(Glance's `locations[].url`, e.g. `file:///var/lib/stratus/images/<id>`).

- `add(image_id, chunks, verify=...)` consumes an iterator of byte chunks
  (never the whole image in memory), computing size, MD5 and SHA-512 as it
  goes. The data becomes visible at its location only after `verify` (called
  with the path of the complete, not yet published data and the figures)
  returned without raising: the write is atomic, and on any error (the
  iterator raising, a quota `limit` exceeded, `verify` refusing) nothing is
  left behind and the error propagates.
- `get(location, offset=0, length=None)` yields the bytes of
  [offset, offset+length) in chunks.
- `delete(location)` removes the data; deleting what is not there is no error.
- `purge_incoming(older_than)` removes the partial data of uploads not written to for
  `older_than` seconds (their process died mid-stream).
- `owns(location)` says whether the location is this store's (data registered
  in place elsewhere, e.g. a host's guest kernel, is read but never deleted).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


class StoreError(Exception):
    """The store could not keep or give the data."""


class StoreLimitExceeded(StoreError):
    """The data is larger than the limit given to add()."""


@dataclass(frozen=True)
class StoredImage:
    location: str
    size: int
    checksum: str  # MD5, Glance's `checksum`
    os_hash_value: str  # SHA-512, Glance's multihash with os_hash_algo "sha512"


# verify(path of the complete data, size) -> None, raising to refuse the data.
Verifier = Callable[[Path, int], None]


class ImageStore(ABC):
    @abstractmethod
    def add(
        self,
        image_id: str,
        chunks: Iterable[bytes],
        *,
        limit: int | None = None,
        verify: Verifier | None = None,
    ) -> StoredImage:
        """Store the data, atomically; see the module docstring."""

    @abstractmethod
    def get(self, location: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The data at `location` from `offset`, `length` bytes (to the end when None)."""

    @abstractmethod
    def delete(self, location: str) -> None:
        """Remove the data at `location` (no error when it is gone)."""

    @abstractmethod
    def purge_incoming(self, *, older_than: float) -> int:
        """Remove partial uploads untouched for `older_than` seconds; how many."""

    @abstractmethod
    def owns(self, location: str) -> bool:
        """Whether `location` names data this store holds."""

    @abstractmethod
    def exists(self, location: str) -> bool:
        """Whether the data at `location` can be read."""
