"""Image reads, limited to what the caller may see (public, or owned by their project)."""

import uuid as uuidlib
from urllib.parse import unquote, urlparse

from django.db.models import Q, QuerySet

from cloud.api.errors import BadRequest
from cloud.api.pagination import after
from cloud.identity.context import RequestContext
from cloud.images.choices import ImageStatus, Visibility
from cloud.images.models import Image

SORT_KEYS = {"created_at", "updated_at", "name", "size", "status", "id"}


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


def _uuid_list(raw: str) -> list:
    try:
        return [uuidlib.UUID(item) for item in raw.split(",") if item]
    except ValueError as exc:
        raise BadRequest(f"Invalid id filter: {raw!r}") from exc


def image_list(*, context: RequestContext, params) -> QuerySet:
    """GET /v2/images: the visible images its filters name, in its order, after its marker
    (400 for a malformed id filter, an unknown sort key or marker)."""
    qs = images_visible(context=context)
    if params.get("name"):
        qs = qs.filter(name=params["name"])
    for key in ("status", "visibility", "owner", "disk_format", "container_format"):
        if params.get(key):
            qs = qs.filter(**{key: params[key]})
    if params.get("id"):
        raw = params["id"]
        ids = _uuid_list(raw[3:]) if raw.startswith("in:") else _uuid_list(raw)
        qs = qs.filter(id__in=ids)
    sort_key = params.get("sort_key", "created_at")
    if sort_key not in SORT_KEYS:
        raise BadRequest(f"Invalid sort key: {sort_key}")
    descending = params.get("sort_dir", "desc") == "desc"
    prefix = "-" if descending else ""
    qs = qs.order_by(f"{prefix}{sort_key}", f"{prefix}id")
    if params.get("marker"):
        marker = image_get(image_id=params["marker"], context=context)
        if marker is None:
            raise BadRequest(f"Invalid marker. Image {params['marker']} could not be found.")
        qs = after(qs, marker, sort_key, descending)
    return qs


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
