"""Image writes: Glance v2's create, update (JSON patch), delete, data upload,
deactivate/reactivate, tags and members; and registering images whose data is a
file on the hosts.

Rules as Glance's: only admins publicize; only shared images have members; a
member answers for itself, the owner adds and removes; a protected image is not
deleted; data goes in once, while the image is queued. An upload moves the image
queued -> saving -> active; when it fails (the client went away, the content is
not its disk_format, the project's quota is exceeded) the stored bytes are
removed and the image goes back to queued, as Glance's upload restores it, so
the data may be uploaded again.
"""

import hashlib
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from cloud.api.errors import BadRequest, Conflict, Forbidden, NotFound, OverLimit
from cloud.api.parsing import INT32_MAX, InvalidValue, to_uuid
from cloud.identity.context import RequestContext
from cloud.identity.quotas import lock_project
from cloud.images.choices import ImageStatus, MemberStatus, Visibility
from cloud.images.formats import FormatMismatch, check_format
from cloud.images.models import Image, ImageMember
from cloud.images.stores import image_store
from cloud.images.stores.base import StoreLimitExceeded

# Attributes Glance computes or owns: a create or patch naming them is refused (403).
READ_ONLY = frozenset(
    {
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "stores",
    }
)
RESERVED = frozenset({"deleted", "deleted_at", "location"})
# Core attributes a patch may replace (and a create may set).
CORE = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "tags",
        "owner",
    }
)
# Set with the data: changed only while the image is queued.
FORMAT_ATTRIBUTES = ("disk_format", "container_format")
MAX_NAME = 255
MAX_PROPERTY_VALUE = 255
MAX_TAG = 255
MEMBER_QUOTA = 128
# Seconds between the touches of a saving image's updated_at while its data streams in.
UPLOAD_HEARTBEAT = 60


# --- creation and attributes ---------------------------------------------------------


def _int_attr(name: str, value) -> int:
    # Bounded to what the column holds: a larger one overflows PostgreSQL's integer.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        raise BadRequest(f"Invalid value for {name}: {value!r} (an integer >= 0)")
    return value


def _bool_attr(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"Invalid value for {name}: {value!r} (a boolean)")
    return value


def _tags(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise BadRequest("tags must be a list of strings")
    for tag in value:
        _check_tag(tag)
    return list(dict.fromkeys(value))


def _check_tag(tag: str) -> None:
    if not tag or len(tag) > MAX_TAG or "/" in tag:
        raise BadRequest(f"Invalid tag {tag!r}")


def _set_core(image: Image, name: str, value, *, context: RequestContext) -> None:
    """Validate and set one core attribute (as a create or a patch gives it)."""
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
            raise BadRequest("name must be a string of at most 255 characters")
        image.name = value or ""
    elif name == "visibility":
        if value not in Visibility.values:
            raise BadRequest(f"Invalid visibility value: {value}")
        if value == Visibility.PUBLIC and not context.is_admin:
            raise Forbidden("Only an admin may make an image public.")
        image.visibility = value
    elif name in ("protected", "os_hidden"):
        setattr(image, name, _bool_attr(name, value))
    elif name in ("min_disk", "min_ram"):
        setattr(image, name, _int_attr(name, value))
    elif name == "disk_format":
        if value not in settings.IMAGE_DISK_FORMATS:
            raise BadRequest(f"Invalid disk format '{value}' for image.")
        image.disk_format = value
    elif name == "container_format":
        if value not in settings.IMAGE_CONTAINER_FORMATS:
            raise BadRequest(f"Invalid container format '{value}' for image.")
        image.container_format = value
    elif name == "tags":
        image.tags = _tags(value)
    elif name == "owner":
        if not context.is_admin:
            raise Forbidden("Attribute 'owner' is read-only.")
        if value is not None and not isinstance(value, str):
            raise BadRequest("owner must be a string")
        image.owner = value or ""


def _check_property(name: str, value) -> None:
    if name in READ_ONLY:
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED:
        raise Forbidden(f"Attribute '{name}' is reserved.")
    if not name or len(name) > 255:
        raise BadRequest(f"Invalid property name {name!r}")
    if not isinstance(value, str) or len(value) > MAX_PROPERTY_VALUE:
        raise BadRequest(
            f"Property {name!r} must be a string of at most {MAX_PROPERTY_VALUE} characters"
        )


def _image_count_limit() -> int:
    return settings.IMAGE_QUOTA_COUNT


def _image_size_limit() -> int:
    limit = settings.IMAGE_QUOTA_SIZE_MB
    return -1 if limit < 0 else limit * 1024 * 1024


def _owned(project_id: str):
    return Image.objects.filter(owner=project_id).exclude(status=ImageStatus.DELETED)


def image_create(*, context: RequestContext, body: dict) -> Image:
    """POST /v2/images: a queued image with these attributes (Glance's default
    visibility "shared"); 413 past the project's image_count_total."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    image = Image(
        owner=context.project_id or "",
        status=ImageStatus.QUEUED,
        visibility=Visibility.SHARED,
        name="",
    )
    properties: dict[str, str] = {}
    for name, value in body.items():
        if name == "id":
            try:
                image.id = to_uuid(value, name="id")
            except InvalidValue as exc:
                raise BadRequest(f"Invalid image id {value!r}") from exc
        elif name in CORE:
            _set_core(image, name, value, context=context)
        else:
            _check_property(name, value)
            properties[name] = value
    image.properties = properties
    with transaction.atomic():
        if image.owner:
            lock_project(image.owner)
            limit = _image_count_limit()
            if limit >= 0 and _owned(image.owner).count() >= limit:
                raise OverLimit(
                    f"The image count quota of {limit} images is reached for this project."
                )
        if Image.objects.filter(pk=image.id).exists():
            raise Conflict(f"Image with identifier {image.id} already exists!")
        image.save(force_insert=True)
    return image


def _patch_path(op: dict) -> str:
    path = op.get("path")
    if not isinstance(path, str) or not path.startswith("/") or len(path) < 2:
        raise BadRequest(f"Invalid JSON pointer for this resource: {path!r}")
    name = path[1:].replace("~1", "/").replace("~0", "~")
    if "/" in path[1:]:
        # As Glance: only its `locations` (not served here) take an index.
        raise BadRequest(f"Invalid JSON pointer for this resource: '{path}'")
    return name


def image_update(*, context: RequestContext, image: Image, changes) -> Image:
    """PATCH /v2/images/{id} with application/openstack-images-v2.1-json-patch:
    add, replace and remove of core attributes and free-form properties."""
    _check_owner(context, image, "modify")
    if not isinstance(changes, list):
        raise BadRequest("A JSON patch is a list of operations")
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        properties = dict(image.properties)
        for op in changes:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove"):
                raise BadRequest(f"Invalid operation: {op!r} (add, replace or remove)")
            name = _patch_path(op)
            if op["op"] != "remove" and "value" not in op:
                raise BadRequest(f"Operation {op['op']} on {name} needs a value")
            if name in READ_ONLY:
                raise Forbidden(f"Attribute '{name}' is read-only.")
            if name in RESERVED:
                raise Forbidden(f"Attribute '{name}' is reserved.")
            if name in CORE:
                if op["op"] == "remove":
                    raise Forbidden(f"Properties '{name}' cannot be removed.")
                if (
                    name in FORMAT_ATTRIBUTES
                    and image.status != ImageStatus.QUEUED
                    and getattr(image, name) != op["value"]
                ):
                    raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
                _set_core(image, name, op["value"], context=context)
            elif op["op"] == "remove":
                if name not in properties:
                    raise Conflict(f"Property {name} does not exist.")
                del properties[name]
            else:
                if op["op"] == "replace" and name not in properties:
                    raise Conflict(f"Property {name} does not exist.")
                _check_property(name, op["value"])
                properties[name] = op["value"]
        image.properties = properties
        image.save()
    return image


def _check_owner(context: RequestContext, image: Image, action: str) -> None:
    """Only the owner's project (or an admin) changes an image; others get 403."""
    if context.is_admin or (image.owner and image.owner == context.project_id):
        return
    raise Forbidden(f"You are not permitted to {action} this image.")


def image_delete(*, context: RequestContext, image: Image) -> None:
    """DELETE /v2/images/{id}: the image is gone and its stored data removed."""
    _check_owner(context, image, "delete")
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if image.protected:
            raise Forbidden(f"Image {image.id} is protected and cannot be deleted.")
        locations = list(image.locations)
        image.status = ImageStatus.DELETED
        image.locations = []
        image.save(update_fields=["status", "locations", "updated_at"])
        ImageMember.objects.filter(image=image).delete()
        transaction.on_commit(lambda: _delete_data(locations))


def _delete_data(locations: list[dict]) -> None:
    store = image_store()
    for location in locations:
        url = str(location.get("url", ""))
        if store.owns(url):
            store.delete(url)


def image_deactivate(*, context: RequestContext, image: Image) -> None:
    """POST /v2/images/{id}/actions/deactivate: active -> deactivated (no download)."""
    _check_owner(context, image, "deactivate")
    if image.status == ImageStatus.DEACTIVATED:
        return
    if image.status != ImageStatus.ACTIVE:
        raise Forbidden(f"Not allowed to deactivate image in status '{image.status}'")
    Image.objects.filter(pk=image.pk, status=ImageStatus.ACTIVE).update(
        status=ImageStatus.DEACTIVATED, updated_at=timezone.now()
    )


def image_reactivate(*, context: RequestContext, image: Image) -> None:
    """POST /v2/images/{id}/actions/reactivate: deactivated -> active."""
    _check_owner(context, image, "reactivate")
    if image.status == ImageStatus.ACTIVE:
        return
    if image.status != ImageStatus.DEACTIVATED:
        raise Forbidden(f"Not allowed to reactivate image in status '{image.status}'")
    Image.objects.filter(pk=image.pk, status=ImageStatus.DEACTIVATED).update(
        status=ImageStatus.ACTIVE, updated_at=timezone.now()
    )


def image_tag_add(*, context: RequestContext, image: Image, tag: str) -> None:
    _check_owner(context, image, "modify")
    _check_tag(tag)
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if tag not in image.tags:
            image.tags = [*image.tags, tag]
            image.save(update_fields=["tags", "updated_at"])


def image_tag_delete(*, context: RequestContext, image: Image, tag: str) -> None:
    _check_owner(context, image, "modify")
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if tag not in image.tags:
            raise NotFound(f"Tag {tag} not found")
        image.tags = [t for t in image.tags if t != tag]
        image.save(update_fields=["tags", "updated_at"])


# --- data ----------------------------------------------------------------------------


def _size_room(image: Image) -> int | None:
    """Bytes the owner's image_size_total leaves for this image's data (None: no limit)."""
    limit = _image_size_limit()
    if limit < 0 or not image.owner:
        return None
    used = _owned(image.owner).exclude(pk=image.pk).aggregate(total=Sum("size"))["total"] or 0
    return max(limit - used, 0)


def _quota_error() -> OverLimit:
    return OverLimit(
        "Denying attempt to upload image because it exceeds the quota of "
        f"{settings.IMAGE_QUOTA_SIZE_MB} MiB (image_size_total) of this project."
    )


def _restore(image_id) -> None:
    """A failed upload: the image is queued again (as Glance restores it)."""
    Image.objects.filter(pk=image_id, status=ImageStatus.SAVING).update(
        status=ImageStatus.QUEUED, updated_at=timezone.now()
    )


def _heartbeat(image_id, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, touching the saving image's updated_at every UPLOAD_HEARTBEAT seconds,
    so that image_uploads_reap tells a live upload from one whose process died."""
    last = time.monotonic()
    for chunk in chunks:
        yield chunk
        if time.monotonic() - last >= UPLOAD_HEARTBEAT:
            last = time.monotonic()
            Image.objects.filter(pk=image_id, status=ImageStatus.SAVING).update(
                updated_at=timezone.now()
            )


def image_uploads_reap(*, older_than: float) -> int:
    """Uploads whose API process died mid-stream (no heartbeat for `older_than` seconds):
    their images are queued again and their partial bytes removed. The number reaped."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    reaped = Image.objects.filter(status=ImageStatus.SAVING, updated_at__lt=cutoff).update(
        status=ImageStatus.QUEUED, updated_at=timezone.now()
    )
    image_store().purge_incoming(older_than=older_than)
    return reaped


def image_upload(
    *,
    context: RequestContext | None,
    image: Image,
    chunks: Iterable[bytes],
    length: int | None,
) -> Image:
    """PUT /v2/images/{id}/file: stream the data into the store, then the image is active.
    `context` None: the caller holds the image's upload transfer token (a compute host).

    409 unless the image is queued; 400 without disk and container formats or when
    the content is not its disk_format; 413 past the project's image_size_total
    (refused before reading when the Content-Length says so). On any failure the
    bytes are removed and the image is queued again."""
    if context is not None:
        _check_owner(context, image, "upload data to")
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if image.status != ImageStatus.QUEUED:
            raise Conflict(f"Image status transition from {image.status} to saving is not allowed")
        if not image.disk_format or not image.container_format:
            raise BadRequest(
                "Properties disk_format, container_format must be set prior to saving data."
            )
        if image.owner:
            lock_project(image.owner)
        room = _size_room(image)
        if room is not None and length is not None and length > room:
            raise _quota_error()
        image.status = ImageStatus.SAVING
        image.save(update_fields=["status", "updated_at"])
    disk_format = image.disk_format
    found: dict[str, int | None] = {}

    def verify(path: Path, size: int) -> None:
        if length is not None and size != length:
            raise BadRequest(f"Upload incomplete: {size} of {length} bytes arrived")
        found["virtual_size"] = check_format(path, disk_format, size)

    store = image_store()
    try:
        stored = store.add(str(image.pk), _heartbeat(image.pk, chunks), limit=room, verify=verify)
    except StoreLimitExceeded as exc:
        _restore(image.pk)
        raise _quota_error() from exc
    except FormatMismatch as exc:
        _restore(image.pk)
        raise BadRequest(str(exc)) from exc
    except BaseException:
        _restore(image.pk)
        raise
    try:
        with transaction.atomic():
            if image.owner:
                lock_project(image.owner)
            room = _size_room(image)
            if room is not None and stored.size > room:
                raise _quota_error()
            done = Image.objects.filter(pk=image.pk, status=ImageStatus.SAVING).update(
                status=ImageStatus.ACTIVE,
                size=stored.size,
                virtual_size=found.get("virtual_size"),
                checksum=stored.checksum,
                os_hash_algo="sha512",
                os_hash_value=stored.os_hash_value,
                locations=[{"url": stored.location, "metadata": {}}],
                updated_at=timezone.now(),
            )
            if not done:
                raise Conflict("The image was deleted during its upload")
    except BaseException:
        store.delete(stored.location)
        _restore(image.pk)
        raise
    return Image.objects.get(pk=image.pk)


# --- members -------------------------------------------------------------------------


def image_member_add(*, context: RequestContext, image: Image, member: str) -> ImageMember:
    """POST /v2/images/{id}/members: share a `shared` image with a project (pending)."""
    _check_owner(context, image, "share")
    if image.visibility != Visibility.SHARED:
        raise Forbidden(f"Only shared images have members (image {image.id}).")
    if not isinstance(member, str) or not member or len(member) > 64:
        raise BadRequest("member must be a project id")
    with transaction.atomic():
        Image.objects.select_for_update().filter(pk=image.pk).first()
        if ImageMember.objects.filter(image=image, member=member).exists():
            raise Conflict(f"Member {member} already associated with image {image.id}.")
        if ImageMember.objects.filter(image=image).count() >= MEMBER_QUOTA:
            raise OverLimit(f"An image may have at most {MEMBER_QUOTA} members.")
        return ImageMember.objects.create(image=image, member=member)


def image_member_update(
    *, context: RequestContext, membership: ImageMember, status: str
) -> ImageMember:
    """PUT /v2/images/{id}/members/{member}: the member project accepts or rejects."""
    if status not in MemberStatus.values:
        raise BadRequest(f"Invalid status: {status} (pending, accepted or rejected)")
    if membership.member != context.project_id:
        raise Forbidden("You are not permitted to modify 'status' on this image member.")
    membership.status = status
    membership.save(update_fields=["status", "updated_at"])
    return membership


def image_member_delete(*, context: RequestContext, image: Image, membership: ImageMember) -> None:
    _check_owner(context, image, "unshare")
    membership.delete()


# --- images registered in place ------------------------------------------------------


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
