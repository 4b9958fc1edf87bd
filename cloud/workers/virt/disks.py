"""A guest's disk files: created from the cached base image and the flavor, grown on
resize, copied out for snapshots and moves.

The root disk is a qcow2 overlay of the cached base (`qemu-img create -f qcow2
-b base -F fmt`), of the flavor's root size (a disk=0 flavor: the image's
virtual size); an image with no data gives an empty qcow2 of the flavor's size.
The flavor's ephemeral disk is a sparse raw file formatted ext4 (label
`ephemeral0`, Nova's default), its swap a sparse raw file prepared by mkswap.
A server with a config drive gets it too (cloud.workers.virt.configdrive).
Each file is written beside its place and renamed, so a disk that exists is
whole: creating them again (a redelivered build) keeps what is there.

`disk.info` in the guest's directory names the base its root disk is backed by:
the image cache reads it to know which bases are in use.
"""

import json
import os
import subprocess
from pathlib import Path

from cloud.payloads import ImageSpec, InstanceSpec
from cloud.workers.virt.configdrive import write_config_drive
from cloud.workers.virt.domain_xml import (
    DomainOptions,
    GuestDisk,
    config_drive_path,
    disk_path,
    guest_disks,
    instance_dir,
)
from cloud.workers.virt.driver import HypervisorError
from cloud.workers.virt.imagecache import ImageCache, ImageFetchError, image_info, qemu_img

GiB = 1024**3
DISK_INFO = "disk.info"


def _run(argv: list[str], what: str) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        raise HypervisorError(f"cannot {what}: {exc.stderr.strip()}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise HypervisorError(f"cannot {what}: {exc}") from exc


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def _write_info(directory: Path, base: Path | None, base_format: str) -> None:
    info = {"base": str(base) if base else None, "base_format": base_format}
    partial = directory / f".{DISK_INFO}.part"
    partial.write_text(json.dumps(info))
    os.replace(partial, directory / DISK_INFO)


def bases_in_use(instances_path: Path) -> set[Path]:
    """The cached bases the guest disks of this host are backed by."""
    used = set()
    for info in instances_path.glob(f"*/{DISK_INFO}"):
        try:
            base = json.loads(info.read_text()).get("base")
        except (OSError, ValueError):
            continue
        if base:
            used.add(Path(base))
    return used


def _root_size(instance: InstanceSpec, virtual_size: int) -> int | None:
    """The root disk's size in bytes (None: the image's own), refused below the image's."""
    root_gb = instance.flavor_spec.root_gb
    if root_gb <= 0:
        return None
    if root_gb * GiB < virtual_size:
        raise HypervisorError(
            f"flavor {instance.flavor_spec.name}'s root disk ({root_gb} GiB) is smaller "
            f"than image {instance.image_spec.id} ({virtual_size} bytes)"
        )
    return root_gb * GiB


def _overlay(root: Path, base: Path, base_format: str, size: int | None) -> None:
    partial = _partial(root)
    args = ["create", "-q", "-f", "qcow2", "-b", str(base), "-F", base_format, str(partial)]
    try:
        qemu_img(*args, *([str(size)] if size else []))
    except ImageFetchError as exc:
        raise HypervisorError(f"cannot create the root disk {root}: {exc}") from exc
    os.replace(partial, root)


def _root_disk(options: DomainOptions, instance: InstanceSpec, cache: ImageCache) -> None:
    directory = instance_dir(options, instance.uuid)
    root = guest_disks(options, instance)[0].path
    image = instance.image_spec
    if root.exists():
        return
    if not image.download_url:
        partial = _partial(root)
        size = f"{max(instance.flavor_spec.root_gb, 1)}G"
        _run(["qemu-img", "create", "-q", "-f", "qcow2", str(partial), size], "create the disk")
        os.replace(partial, root)
        _write_info(directory, None, "")
        return
    try:
        with cache.using(image) as (base, base_format):
            virtual_size = int(image_info(base, base_format)["virtual-size"])
            _overlay(root, base, base_format, _root_size(instance, virtual_size))
            _write_info(directory, base, base_format)
    except ImageFetchError as exc:
        raise HypervisorError(str(exc)) from exc


def _formatted(disk: GuestDisk, size_bytes: int) -> None:
    partial = _partial(disk.path)
    with partial.open("wb") as handle:
        handle.truncate(size_bytes)
    if disk.kind == "swap":
        _run(["mkswap", "-q", "-L", "swap0", str(partial)], "prepare the swap disk")
    else:
        _run(
            ["mkfs.ext4", "-q", "-F", "-L", "ephemeral0", "-E", "nodiscard", str(partial)],
            "format the ephemeral disk",
        )
    os.replace(partial, disk.path)


def create_guest_disks(options: DomainOptions, instance: InstanceSpec, cache: ImageCache) -> None:
    """Every disk the guest's domain names, created if missing."""
    instance_dir(options, instance.uuid).mkdir(parents=True, exist_ok=True)
    if instance.root_volume is None:
        _root_disk(options, instance, cache)
    flavor = instance.flavor_spec
    for disk in guest_disks(options, instance):
        if disk.kind == "root" or disk.path.exists():
            continue
        size = flavor.ephemeral_gb * GiB if disk.kind == "ephemeral" else flavor.swap * 1024**2
        _formatted(disk, size)
    if instance.config_drive:
        write_config_drive(config_drive_path(options, instance.uuid), instance)


def grow_root_disk(options: DomainOptions, instance: InstanceSpec) -> None:
    """A resize to a larger root disk grows it (Nova never shrinks a disk)."""
    root = guest_disks(options, instance)[0].path
    wanted = instance.flavor_spec.root_gb * GiB
    if not root.exists() or wanted <= 0:
        return
    try:
        current = int(image_info(root, "qcow2")["virtual-size"])
    except ImageFetchError as exc:
        raise HypervisorError(str(exc)) from exc
    if wanted > current:
        _run(["qemu-img", "resize", "-q", "-f", "qcow2", str(root), str(wanted)], "grow the disk")


def place_root_disk(
    options: DomainOptions, instance: InstanceSpec, disk_image: ImageSpec, cache: ImageCache
) -> None:
    """The guest's root disk is the flattened copy its source host uploaded (a move to
    this host): fetched, verified and put in place, then grown to the flavor's size."""
    directory = instance_dir(options, instance.uuid)
    directory.mkdir(parents=True, exist_ok=True)
    root = guest_disks(options, instance)[0].path
    if not root.exists():
        try:
            cache.download_to(disk_image, _partial(root))
        except ImageFetchError as exc:
            raise HypervisorError(str(exc)) from exc
        os.replace(_partial(root), root)
        _write_info(directory, None, "")
    grow_root_disk(options, instance)


def disk_details(path: Path, fmt: str) -> dict:
    """What the host knows of one disk file, for diagnostics."""
    try:
        info = image_info(path, fmt)
    except (ImageFetchError, ValueError):
        return {"path": str(path), "format": fmt}
    return {
        "path": str(path),
        "format": info.get("format", fmt),
        "virtual_size": info.get("virtual-size"),
        "actual_size": info.get("actual-size"),
        "backing_file": info.get("backing-filename") or None,
    }


def flatten_root_disk(options: DomainOptions, instance_uuid: str, target: Path) -> None:
    """A standalone qcow2 copy of the root disk (its backing chain merged in)."""
    root = disk_path(options, instance_uuid)
    try:
        qemu_img("convert", "-q", "-O", "qcow2", str(root), str(target), timeout=3600)
    except ImageFetchError as exc:
        raise HypervisorError(f"cannot copy the disk of {instance_uuid}: {exc}") from exc
