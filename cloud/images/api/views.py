"""Glance v2: version discovery, images (create, list, show, JSON-patch update,
delete), their data (streamed upload and download with Range), deactivate and
reactivate, tags and members.

Glance answers with unwrapped image objects and string-keyed custom
properties at the top level; clients look images up by name through
`GET /v2/images?name=` and by ids through `?id=in:a,b`. Image data is streamed
in chunks both ways, never held whole in memory. The data views also accept an
`X-Image-Transfer-Token` (cloud/images/transfer.py) in place of X-Auth-Token,
for the one image and action it names.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import authentication, exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response

from cloud.api import bodies
from cloud.api.bodies import InvalidBody
from cloud.api.errors import BadRequest, Forbidden, NotFound
from cloud.api.pagination import paginate
from cloud.api.parsing import INT64_MAX, InvalidValue, parse_int
from cloud.api.schema import body
from cloud.api.views import base_url
from cloud.identity.views import OpenStackView
from cloud.images import services
from cloud.images.api import body_schemas as schemas
from cloud.images.api.presenters import image_body, member_body
from cloud.images.choices import ImageStatus
from cloud.images.errors import RangeNotSatisfiable, UnsupportedMediaType
from cloud.images.models import Image
from cloud.images.selectors import (
    image_get,
    image_get_any,
    image_list,
    image_member_get,
    image_members,
)
from cloud.images.stores import StoreError, image_store
from cloud.images.transfer import image_transfer_allows

PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ImageVersionsView(OpenStackView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Image API versions", responses={300: dict})
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


def _json_body(request) -> object:
    try:
        return bodies.loads(request.body or b"null")
    except InvalidBody as exc:
        raise BadRequest(f"Malformed request body: {exc}") from exc


class AnyAccept(BaseContentNegotiation):
    """Glance ignores Accept: the SDK sends `application/octet-stream` with an upload
    and the JSON-patch type with a PATCH, and reads JSON (or data) back."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ImageBaseView(OpenStackView):
    content_negotiation_class = AnyAccept

    def image(self, image_id: str) -> Image:
        image = image_get(image_id=image_id, context=self.context)
        if image is None:
            raise NotFound(f"No image found with ID {image_id}")
        return image


class ImageListView(ImageBaseView):
    """GET, POST /v2/images"""

    def get(self, request):
        self.authorize("get_images")
        params = request.GET
        qs = image_list(context=self.context, params=params)
        rows, more = paginate(qs, {"limit": params.get("limit", 25)})
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

    @body(schemas.IMAGE_CREATE)
    def post(self, request):
        self.authorize("add_image")
        image = services.image_create(context=self.context, body=request.data)
        response = Response(image_body(image), status=status.HTTP_201_CREATED)
        response["Location"] = f"{base_url(request)}/image/v2/images/{image.id}"
        return response


class ImageView(ImageBaseView):
    """GET, PATCH, DELETE /v2/images/{id}"""

    def get(self, request, image_id: str):
        self.authorize("get_image")
        return Response(image_body(self.image(image_id)))

    @body(schemas.IMAGE_PATCH, media_type=PATCH_TYPES[0])
    def patch(self, request, image_id: str):
        self.authorize("modify_image")
        image = self.image(image_id)
        if request.content_type.split(";")[0].strip() not in PATCH_TYPES:
            raise UnsupportedMediaType(
                f"Unsupported Content-Type {request.content_type!r}: use {PATCH_TYPES[0]}"
            )
        changes = _json_body(request)
        image = services.image_update(context=self.context, image=image, changes=changes)
        return Response(image_body(image))

    def delete(self, request, image_id: str):
        self.authorize("delete_image")
        services.image_delete(context=self.context, image=self.image(image_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageActionView(ImageBaseView):
    """POST /v2/images/{id}/actions/deactivate|reactivate"""

    @extend_schema(request=None)
    def post(self, request, image_id: str, action: str):
        if action not in ("deactivate", "reactivate"):
            raise NotFound(f"Unknown image action {action}")
        self.authorize(action)
        image = self.image(image_id)
        if action == "deactivate":
            services.image_deactivate(context=self.context, image=image)
        else:
            services.image_reactivate(context=self.context, image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageTagView(ImageBaseView):
    """PUT, DELETE /v2/images/{id}/tags/{tag}"""

    @extend_schema(request=None)
    def put(self, request, image_id: str, tag: str):
        self.authorize("modify_image")
        services.image_tag_add(context=self.context, image=self.image(image_id), tag=tag)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def delete(self, request, image_id: str, tag: str):
        self.authorize("modify_image")
        services.image_tag_delete(context=self.context, image=self.image(image_id), tag=tag)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageMembersView(ImageBaseView):
    """GET, POST /v2/images/{id}/members"""

    def get(self, request, image_id: str):
        self.authorize("get_members")
        image = self.image(image_id)
        if image.visibility != "shared":
            raise Forbidden(f"Only shared images have members (image {image.id}).")
        members = image_members(image=image, context=self.context)
        return Response(
            {"members": [member_body(m) for m in members], "schema": "/v2/schemas/members"}
        )

    @body(schemas.MEMBER_CREATE)
    def post(self, request, image_id: str):
        self.authorize("add_member")
        body = request.data
        if not isinstance(body, dict) or "member" not in body:
            raise BadRequest('The request body must be {"member": "<project id>"}')
        member = services.image_member_add(
            context=self.context, image=self.image(image_id), member=body["member"]
        )
        return Response(member_body(member))


class ImageMemberView(ImageBaseView):
    """GET, PUT, DELETE /v2/images/{id}/members/{member_id}"""

    def membership(self, image: Image, member_id: str):
        membership = image_member_get(image=image, member=member_id, context=self.context)
        if membership is None:
            raise NotFound(f"Member {member_id} not found for image {image.id}")
        return membership

    def get(self, request, image_id: str, member_id: str):
        self.authorize("get_members")
        image = self.image(image_id)
        return Response(member_body(self.membership(image, member_id)))

    @body(schemas.MEMBER_UPDATE)
    def put(self, request, image_id: str, member_id: str):
        self.authorize("modify_member")
        body = request.data
        if not isinstance(body, dict) or "status" not in body:
            raise BadRequest('The request body must be {"status": "accepted|rejected|pending"}')
        membership = self.membership(self.image(image_id), member_id)
        membership = services.image_member_update(
            context=self.context, membership=membership, status=body["status"]
        )
        return Response(member_body(membership))

    def delete(self, request, image_id: str, member_id: str):
        self.authorize("delete_member")
        image = self.image(image_id)
        services.image_member_delete(
            context=self.context, image=image, membership=self.membership(image, member_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- image data ----------------------------------------------------------------------


@dataclass(frozen=True)
class TransferGrant:
    """request.auth of a caller holding a transfer token: one image, one action."""

    image_id: str
    action: str


class TransferTokenAuthentication(authentication.BaseAuthentication):
    """X-Image-Transfer-Token, valid for the URL's image and the method's action only."""

    def authenticate(self, request):
        token = request.META.get("HTTP_X_IMAGE_TRANSFER_TOKEN")
        if not token:
            return None
        image_id = str(request.parser_context["kwargs"].get("image_id", ""))
        action = "upload" if request.method == "PUT" else "download"
        if not image_transfer_allows(token, image_id=image_id, action=action):
            raise exceptions.AuthenticationFailed(
                "The image transfer token is invalid, expired, or not for this image and action."
            )
        return None, TransferGrant(image_id=image_id, action=action)

    def authenticate_header(self, request):
        return 'Keystone uri="/identity/v3"'


class TokenOrTransfer(BasePermission):
    def has_permission(self, request, view):
        if isinstance(request.auth, TransferGrant):
            return True
        return bool(request.user and request.user.is_authenticated)


def _request_chunks(request, length: int | None):
    """The request body in chunks; a body shorter than its Content-Length (the client
    went away) raises. Chunked bodies (gunicorn de-chunks them) are read from the WSGI
    input directly, since Django reads nothing without a Content-Length."""
    raw = request._request
    stream = raw if length is not None else raw.META["wsgi.input"]
    received = 0
    while True:
        chunk = stream.read(settings.IMAGE_CHUNK_SIZE)
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if length is not None and received < length:
        raise BadRequest(f"Upload incomplete: {received} of {length} bytes arrived")


def _range_int(text: str, header: str) -> int:
    try:
        return parse_int(text, name="Range", minimum=0, maximum=INT64_MAX)
    except InvalidValue as exc:
        raise RangeNotSatisfiable(f"Invalid or unsupported Range: {header}") from exc


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a `Range: bytes=a-b` header (None without one); 416 when unsatisfiable."""
    if not header:
        return None
    match = RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(f"Invalid or unsupported Range: {header}")
    first, last = match.groups()
    if first == "":
        start, end = max(size - _range_int(last, header), 0), size - 1
    else:
        start = _range_int(first, header)
        end = min(_range_int(last, header), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(f"Range {header} is not satisfiable for {size} bytes")
    return start, end


class ImageFileView(ImageBaseView):
    """PUT, GET /v2/images/{id}/file"""

    authentication_classes = [
        TransferTokenAuthentication,
        *OpenStackView.authentication_classes,
    ]
    permission_classes = [TokenOrTransfer]

    def file_image(self, image_id: str, action: str) -> Image:
        grant = self.request.auth
        if isinstance(grant, TransferGrant):
            image = image_get_any(image_id=image_id)
            if image is None or grant.action != action:
                raise NotFound(f"No image found with ID {image_id}")
            return image
        self.authorize(f"{action}_image")
        return self.image(image_id)

    @extend_schema(request={"application/octet-stream": {"type": "string", "format": "binary"}})
    def put(self, request, image_id: str):
        image = self.file_image(image_id, "upload")
        if request.content_type.split(";")[0].strip() != "application/octet-stream":
            raise UnsupportedMediaType(
                f"Unsupported Content-Type {request.content_type!r}: use application/octet-stream"
            )
        raw_length = request.META.get("CONTENT_LENGTH")
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = (
                parse_int(raw_length, name="Content-Length", minimum=0, maximum=INT64_MAX)
                if raw_length
                else (None if chunked else 0)
            )
        except InvalidValue as exc:
            raise BadRequest(f"Invalid Content-Length {raw_length!r}") from exc
        services.image_upload(
            context=None if isinstance(request.auth, TransferGrant) else self.context,
            image=image,
            chunks=_request_chunks(request, length),
            length=length,
        )
        return HttpResponse(status=status.HTTP_204_NO_CONTENT)

    def get(self, request, image_id: str):
        image = self.file_image(image_id, "download")
        grant = isinstance(request.auth, TransferGrant)
        if image.status == ImageStatus.DEACTIVATED and not (grant or self.context.is_admin):
            raise Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        location = next((str(loc.get("url", "")) for loc in image.locations), "")
        if image.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED) or not location:
            return HttpResponse(status=status.HTTP_204_NO_CONTENT)
        store = image_store()
        size = image.size or 0
        span = _byte_range(request.META.get("HTTP_RANGE", ""), size)
        start, end = span if span is not None else (0, size - 1)
        try:
            chunks = store.get(location, offset=start, length=end - start + 1)
        except StoreError as exc:
            raise NotFound(f"The data of image {image.id} is not found") from exc
        response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
        response["Content-Length"] = str(max(end - start + 1, 0))
        if span is None:
            if image.checksum:
                response["Content-MD5"] = image.checksum
        else:
            response.status_code = status.HTTP_206_PARTIAL_CONTENT
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
        return response
