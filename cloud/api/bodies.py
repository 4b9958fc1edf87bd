"""The request-body guard every API shares: one strict JSON decoder, the DRF parser
built on it, and the middleware that checks every body before any view runs.

What gets past Python's `json.loads` and later breaks a view or the database:
lone UTF-16 surrogates (`"\\ud800"` is a valid JSON escape, and the str it makes
cannot be encoded to UTF-8, so PostgreSQL, the logs or the renderer fail on it),
NUL characters (PostgreSQL's text refuses them), `NaN`/`Infinity`, `1e999` (a float
inf), and nesting deep enough to raise RecursionError. `loads` refuses all of them
with `InvalidBody` (400), and bytes that are not UTF-8.

`RequestBodyGuardMiddleware` (first in MIDDLEWARE after the request id) answers, in
the OpenStack error shape of the path:
- 413 for a body over `API_MAX_BODY_BYTES`, by Content-Length or, for a chunked
  body, by reading at most one byte past the limit;
- 400 for a JSON body (any media type naming json, Glance's
  `application/openstack-images-v2.1-json-patch` too) that `loads` refuses, or
  nested deeper than `API_MAX_JSON_DEPTH`; and for a NUL character in the path or the
  query string (PostgreSQL refuses it in any lookup).
Bodies sent as `application/octet-stream` (the image upload, `PUT
/image/v2/images/{id}/file`, which streams gigabytes) are not read nor limited here:
the view that streams them owns their size. `StrictJSONParser` (REST_FRAMEWORK's only
JSON parser) decodes with the same `loads`, so a view reached any other way is held to
the same rules; a parser for another JSON media type subclasses it (set `media_type`).
"""

import io
import json
import re

from django.conf import settings
from django.http import JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from cloud.api.errors import error_body
from cloud.api.parsing import INT64_MAX, InvalidValue, parse_float, parse_int

STREAMED_TYPES = ("application/octet-stream",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BAD_CHARS = re.compile("[\ud800-\udfff\x00]")


class InvalidBody(ValueError):
    """A request body this API refuses to decode (400)."""


def _finite(text: str) -> float:
    try:
        return parse_float(text, name="number")
    except InvalidValue:
        raise InvalidBody(f"{text[:40]} is not a finite number of bounded length") from None


def _constant(name: str):
    raise InvalidBody(f"{name} is not a JSON number")


def _check(value, max_depth: int) -> None:
    """Depth and characters of a decoded body, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _BAD_CHARS.search(item):
                raise InvalidBody("strings must be valid Unicode without NUL characters")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise InvalidBody(f"nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def loads(data: bytes | str, *, max_depth: int | None = None):
    """The JSON document in data, or InvalidBody saying why it is refused."""
    if max_depth is None:
        max_depth = settings.API_MAX_JSON_DEPTH
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidBody("the body is not valid UTF-8") from None
    try:
        value = json.loads(data, parse_float=_finite, parse_constant=_constant)
    except RecursionError:
        raise InvalidBody(f"nested deeper than {max_depth} levels") from None
    except InvalidBody:
        raise
    except ValueError as exc:
        raise InvalidBody(f"JSON parse error - {exc}") from None
    _check(value, max_depth)
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser on `loads`: the one decoder of every API body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return loads(stream.read() if stream is not None else b"")
        except InvalidBody as exc:
            raise ParseError(str(exc)) from None


def _refuse(request, code: int, message: str) -> JsonResponse:
    return JsonResponse(
        error_body(request.path, code, message, request_id=getattr(request, "request_id", "")),
        status=code,
    )


def _media_type(request) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()


class RequestBodyGuardMiddleware:
    """Size, depth and Unicode of every request body, before any view (see module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refused = self._check(request)
        return refused if refused is not None else self.get_response(request)

    def _check(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return _refuse(request, 400, "The URL must not contain NUL characters.")
        if request.method not in BODY_METHODS:
            return None
        media_type = _media_type(request)
        if media_type in STREAMED_TYPES:
            return None
        limit = settings.API_MAX_BODY_BYTES
        too_big = f"Request body is larger than the limit of {limit} bytes."
        length = request.META.get("CONTENT_LENGTH") or ""
        if length:
            try:
                size = parse_int(length, name="Content-Length", minimum=0, maximum=INT64_MAX)
            except InvalidValue:
                return _refuse(request, 400, "Invalid Content-Length header.")
            if size > limit:
                return _refuse(request, 413, too_big)
            body = request.body
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = request.META["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _refuse(request, 413, too_big)
            request._body = body
            request._stream = io.BytesIO(body)
        else:
            return None
        if body and "json" in media_type:
            try:
                loads(body)
            except InvalidBody as exc:
                return _refuse(request, 400, f"Malformed request body: {exc}")
        return None
