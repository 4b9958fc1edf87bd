"""Image stores: where image data lives, behind one interface (cloud/images/stores/base.py).

`image_store()` is the configured backend (IMAGE_STORE_BACKEND; the filesystem
store under the var dir is the embedded default). Other backends (an S3-style
one) implement ImageStore and register here.
"""

from functools import cache

from django.conf import settings

from cloud.images.stores.base import ImageStore, StoredImage, StoreError
from cloud.images.stores.filesystem import FilesystemStore

__all__ = ["ImageStore", "StoreError", "StoredImage", "image_store"]


@cache
def _store(directory: str) -> ImageStore:
    return FilesystemStore(directory)


def image_store() -> ImageStore:
    """The store new image data goes to (IMAGE_STORE_DIR for the filesystem store)."""
    return _store(str(settings.IMAGE_STORE_DIR))
