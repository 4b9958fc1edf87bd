"""Image reads, limited to what the caller may see, by Glance's rules.

A project sees (shows, downloads) an image it owns, a public or community image,
and a shared image it is a member of, whatever its answer (Glance lets a member
see the image before accepting). Its image *list* is narrower, as Glance's:
its own images, public ones, and shared images whose membership has the
`member_status` asked for (accepted by default); community images of others
only with `visibility=community` (or `all`); hidden images (`os_hidden`) only
with `os_hidden=true`. Admins see every image; their list, too, leaves out other
projects' community images unless asked for (Glance's image_get_all).
"""

from datetime import datetime
from urllib.parse import unquote, urlparse

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_datetime

from cloud.api.errors import BadRequest
from cloud.api.pagination import after
from cloud.api.parsing import INT64_MAX, InvalidValue, parse_int, to_uuid, uuid_or_none
from cloud.identity.context import RequestContext
from cloud.images.choices import ImageStatus, MemberStatus, Visibility
from cloud.images.models import Image, ImageMember

SORT_KEYS = {
    "created_at",
    "updated_at",
    "name",
    "size",
    "virtual_size",
    "status",
    "id",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "owner",
    "visibility",
}
# Query parameters that are not property filters.
LIST_PARAMS = {
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
    "member_status",
    "visibility",
    "os_hidden",
    "tag",
    "size_min",
    "size_max",
    "created_at",
    "updated_at",
    "protected",
    "name",
    "id",
    "status",
    "owner",
    "disk_format",
    "container_format",
}
OPERATORS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "eq": "exact", "neq": None}


def _member_of(project_id: str | None, statuses: list[str] | None = None) -> Exists:
    members = ImageMember.objects.filter(image=OuterRef("pk"), member=project_id or "")
    if statuses is not None:
        members = members.filter(status__in=statuses)
    return Exists(members)


def images_visible(*, context: RequestContext) -> QuerySet:
    """Every image the caller may show and download."""
    qs = Image.objects.exclude(status=ImageStatus.DELETED)
    if context.is_admin:
        return qs
    pid = context.project_id
    return qs.filter(
        Q(visibility__in=[Visibility.PUBLIC, Visibility.COMMUNITY])
        | Q(owner=pid)
        | (Q(visibility=Visibility.SHARED) & _member_of(pid))
    )


def image_get(*, image_id: str, context: RequestContext) -> Image | None:
    pk = uuid_or_none(image_id)
    if pk is None:
        return None
    return images_visible(context=context).filter(pk=pk).first()


def image_get_any(*, image_id: str) -> Image | None:
    """The image whatever its visibility (for a holder of a transfer token), unless deleted."""
    return _image_by_id(image_id)


def _uuid_list(raw: str) -> list:
    try:
        return [to_uuid(item, name="id") for item in raw.split(",") if item]
    except InvalidValue as exc:
        raise BadRequest(f"Invalid id filter: {raw!r}") from exc


def _in(raw: str) -> list[str]:
    return raw[3:].split(",") if raw.startswith("in:") else [raw]


def _listed(context: RequestContext, visibility: str | None, member_status: str) -> QuerySet:
    """The images a list shows before the other filters, by Glance's visibility rules."""
    qs = Image.objects.exclude(status=ImageStatus.DELETED)
    if visibility is not None and visibility != "all" and visibility not in Visibility.values:
        raise BadRequest(f"Invalid visibility value: {visibility}")
    if member_status != "all" and member_status not in MemberStatus.values:
        raise BadRequest(f"Invalid member_status value: {member_status}")
    pid = context.project_id
    if visibility not in (None, "all"):
        qs = qs.filter(visibility=visibility)
    elif visibility is None:
        # Without a visibility, community images are listed to their owner only.
        qs = qs.filter(~Q(visibility=Visibility.COMMUNITY) | Q(owner=pid))
    if context.is_admin:
        return qs
    # What a project may list: its own, public and community images, and shared ones
    # it is a member of with the asked member status; narrowed above by visibility.
    statuses = None if member_status == "all" else [member_status]
    return qs.filter(
        Q(owner=pid)
        | Q(visibility__in=[Visibility.PUBLIC, Visibility.COMMUNITY])
        | (Q(visibility=Visibility.SHARED) & _member_of(pid, statuses))
    )


def _bool_param(name: str, raw: str) -> bool:
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"Invalid value for {name}: {raw!r} (true or false)")


def _int_param(name: str, raw: str) -> int:
    try:
        return parse_int(raw, name=name, maximum=INT64_MAX)
    except InvalidValue as exc:
        raise BadRequest(f"Invalid value for {name}: {raw!r} (an integer)") from exc


def _time_filter(qs: QuerySet, column: str, raw: str) -> QuerySet:
    """Glance's `created_at=gte:2016-04-18T00:00:00Z` comparisons."""
    op, sep, value = raw.partition(":")
    if not sep or op not in OPERATORS:
        raise BadRequest(f"Invalid {column} filter {raw!r} (operator:timestamp)")
    when: datetime | None = parse_datetime(value)
    if when is None:
        raise BadRequest(f"Invalid timestamp in {column} filter: {value!r}")
    if op == "neq":
        return qs.exclude(**{column: when})
    return qs.filter(**{f"{column}__{OPERATORS[op]}": when})


def _sort(params) -> list[tuple[str, bool]]:
    """[(key, descending)] from `sort=k:dir,...` or repeated sort_key/sort_dir."""
    if params.get("sort"):
        if params.get("sort_key") or params.get("sort_dir"):
            raise BadRequest("The sort parameter cannot be combined with sort_key or sort_dir")
        keys = []
        for item in params["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            keys.append((key, direction or "desc"))
    else:
        names = params.getlist("sort_key") or ["created_at"]
        dirs = params.getlist("sort_dir") or ["desc"]
        if len(dirs) > 1 and len(dirs) != len(names):
            raise BadRequest("Give one sort_dir, or one for each sort_key")
        keys = [(name, dirs[i] if len(dirs) > 1 else dirs[0]) for i, name in enumerate(names)]
    found = []
    for key, direction in keys:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key: {key}")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}")
        found.append((key, direction == "desc"))
    return found


def _tagged(qs: QuerySet, tags: list[str]) -> QuerySet:
    """Images carrying every one of the tags (JSON containment on PostgreSQL; SQLite,
    the development database, has none, so the ids are picked there in Python)."""
    if connection.vendor == "postgresql":
        return qs.filter(tags__contains=tags)
    wanted = set(tags)
    ids = [pk for pk, have in qs.values_list("pk", "tags") if wanted <= set(have or [])]
    return qs.filter(pk__in=ids)


def image_list(*, context: RequestContext, params) -> QuerySet:
    """GET /v2/images: the images the caller's list shows, filtered as asked, in the
    asked order, after the marker (400 for a malformed filter, sort key or marker)."""
    qs = _listed(context, params.get("visibility"), params.get("member_status", "accepted"))
    if params.get("name"):
        qs = qs.filter(name__in=_in(params["name"]))
    for key in ("status", "owner", "disk_format", "container_format"):
        if params.get(key):
            qs = qs.filter(**{f"{key}__in": _in(params[key])})
    if params.get("id"):
        qs = qs.filter(id__in=_uuid_list(params["id"].removeprefix("in:")))
    qs = qs.filter(os_hidden=_bool_param("os_hidden", params.get("os_hidden", "false")))
    if params.get("protected"):
        qs = qs.filter(protected=_bool_param("protected", params["protected"]))
    if params.get("size_min"):
        qs = qs.filter(size__gte=_int_param("size_min", params["size_min"]))
    if params.get("size_max"):
        qs = qs.filter(size__lte=_int_param("size_max", params["size_max"]))
    for column in ("created_at", "updated_at"):
        if params.get(column):
            qs = _time_filter(qs, column, params[column])
    tags = params.getlist("tag")
    if tags:
        qs = _tagged(qs, tags)
    for key in params:
        if key not in LIST_PARAMS:
            qs = qs.filter(**{f"properties__{key}": params[key]})
    order = _sort(params)
    first_key, descending = order[0]
    qs = qs.order_by(
        *[f"{'-' if desc else ''}{key}" for key, desc in order], f"{'-' if descending else ''}id"
    )
    if params.get("marker"):
        marker = image_get(image_id=params["marker"], context=context)
        if marker is None:
            raise BadRequest(f"Invalid marker. Image {params['marker']} could not be found.")
        if len(order) > 1:
            raise BadRequest("A marker pages a list sorted by one key only")
        qs = after(qs, marker, first_key, descending)
    return qs


def image_members(*, image: Image, context: RequestContext) -> QuerySet:
    """The image's members the caller may see: all for the owner or an admin, else its own."""
    qs = ImageMember.objects.filter(image=image)
    if context.is_admin or image.owner == context.project_id:
        return qs
    return qs.filter(member=context.project_id or "")


def image_member_get(*, image: Image, member: str, context: RequestContext) -> ImageMember | None:
    return image_members(image=image, context=context).filter(member=member).first()


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
    pk = uuid_or_none(image_id)
    if pk is None:
        return None
    return Image.objects.exclude(status=ImageStatus.DELETED).filter(pk=pk).first()
