"""Image reads, limited to what the caller may see (public, or owned by their project)."""

import uuid as uuidlib
from urllib.parse import unquote, urlparse

from django.db.models import Q, QuerySet

from cloud.identity.context import RequestContext
from cloud.images.models import Image, ImageStatus, Visibility


def images_visible(*, context: RequestContext) -> QuerySet:
    qs = Image.objects.exclude(status=ImageStatus.DELETED)
    if context.is_admin:
        return qs
    return qs.filter(
        Q(visibility__in=[Visibility.PUBLIC, Visibility.COMMUNITY]) | Q(owner=context.project_id)
    )


def image_get(*, image_id: str, context: RequestContext) -> Image | None:
    try:
        pk = uuidlib.UUID(image_id)
    except ValueError:
        return None
    return images_visible(context=context).filter(pk=pk).first()


def image_file_path(image: Image) -> str:
    """The host path of an image's data when it is stored as a file:// location, else ""."""
    for location in image.locations:
        url = urlparse(str(location.get("url", "")))
        if url.scheme == "file" and url.path:
            return unquote(url.path)
    return ""


def image_boot_files(*, image: Image) -> dict[str, str]:
    """Where the compute finds the parts named by Nova's kernel_id / ramdisk_id image
    properties, as the image spec's `kernel_file` / `ramdisk_file`; {} when the image
    boots from its disk or a part is gone (the build then fails on the host, clearly)."""
    files = {}
    for prop, key in (("kernel_id", "kernel_file"), ("ramdisk_id", "ramdisk_file")):
        part_id = image.properties.get(prop)
        part = _image_by_id(str(part_id)) if part_id else None
        if part is not None and image_file_path(part):
            files[key] = image_file_path(part)
    return files


def _image_by_id(image_id: str) -> Image | None:
    try:
        pk = uuidlib.UUID(image_id)
    except ValueError:
        return None
    return Image.objects.exclude(status=ImageStatus.DELETED).filter(pk=pk).first()
