"""Glance v2 subset: version discovery, image list and show.

Glance answers with unwrapped image objects and string-keyed custom
properties at the top level; clients look images up by name through
`GET /v2/images?name=` and by ids through `?id=in:a,b`.
"""

import uuid as uuidlib

from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.pagination import after, paginate
from cloud.api.views import base_url
from cloud.identity.views import OpenStackView
from cloud.images.models import Image
from cloud.images.selectors import image_get, images_visible

SORT_KEYS = {"created_at", "updated_at", "name", "size", "status", "id"}


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_body(image: Image) -> dict:
    body = {
        "id": str(image.id),
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner or None,
        "protected": image.protected,
        "os_hidden": False,
        "disk_format": image.disk_format or None,
        "container_format": image.container_format or None,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum or None,
        "os_hash_algo": image.os_hash_algo or None,
        "os_hash_value": image.os_hash_value or None,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "tags": [],
        "created_at": _iso(image.created_at),
        "updated_at": _iso(image.updated_at),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    for key, value in image.properties.items():
        body.setdefault(key, value)
    return body


class ImageVersionsView(OpenStackView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        href = f"{base_url(request)}/image/v2/"
        versions = [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == 16 else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in range(16, -1, -1)
        ]
        return Response({"versions": versions}, status=status.HTTP_300_MULTIPLE_CHOICES)


def _uuid_list(raw: str) -> list:
    try:
        return [uuidlib.UUID(item) for item in raw.split(",") if item]
    except ValueError as exc:
        raise BadRequest(f"Invalid id filter: {raw!r}") from exc


class ImageListView(OpenStackView):
    """GET /v2/images"""

    def get(self, request):
        self.authorize("get_images")
        params = request.GET
        qs = images_visible(context=self.context)
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
            marker = image_get(image_id=params["marker"], context=self.context)
            if marker is None:
                raise BadRequest(f"Invalid marker. Image {params['marker']} could not be found.")
            qs = after(qs, marker, sort_key, descending)
        rows, more = paginate(qs, params)
        body = {
            "images": [image_body(i) for i in rows],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if more:
            query = params.copy()
            query["marker"] = str(rows[-1].id)
            body["next"] = f"/v2/images?{query.urlencode()}"
        return Response(body)


class ImageView(OpenStackView):
    """GET /v2/images/{id}"""

    def get(self, request, image_id: str):
        self.authorize("get_image")
        image = image_get(image_id=image_id, context=self.context)
        if image is None:
            raise NotFound(f"No image found with ID {image_id}")
        return Response(image_body(image))
