"""Image writes: registering images whose data is a file on the hosts."""

import hashlib
from pathlib import Path

from cloud.images.choices import ImageStatus, Visibility
from cloud.images.models import Image


def _hashes(path: Path) -> tuple[str, str]:
    """Glance's checksum (md5) and os_hash_value (sha512) of the file."""
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha512.update(chunk)
    return md5.hexdigest(), sha512.hexdigest()


def image_register_file(
    *,
    image_id: str,
    name: str,
    path: Path | None,
    disk_format: str,
    container_format: str,
    properties: dict | None = None,
    owner: str = "",
) -> Image:
    """Create or bring up to date a public, active image; with `path`, its data is that
    file (a file:// location, its size and hashes), read in place by the compute hosts."""
    defaults: dict = {
        "name": name,
        "status": ImageStatus.ACTIVE,
        "visibility": Visibility.PUBLIC,
        "owner": owner,
        "disk_format": disk_format,
        "container_format": container_format,
        "properties": properties or {},
        "locations": [],
        "size": None,
        "checksum": "",
        "os_hash_algo": "",
        "os_hash_value": "",
    }
    if path is not None:
        path = path.resolve()
        checksum, sha512 = _hashes(path)
        defaults.update(
            locations=[{"url": path.as_uri(), "metadata": {}}],
            size=path.stat().st_size,
            checksum=checksum,
            os_hash_algo="sha512",
            os_hash_value=sha512,
        )
    image, _ = Image.objects.update_or_create(id=image_id, defaults=defaults)
    return image
