"""OpenAPI generation (drf-spectacular) for the OpenStack-shaped views, and the one
declaration of each operation's request body.

A body is declared once per operation, beside its view: a serializer where the view
validates with one (`enveloped`, the identity and server-create bodies), else a JSON
schema (Nova's way) given to `@body(...)`, which validates the request against it
before the view runs (400 in the API's error shape, with jsonschema's messages as
Nova's and Placement's own) and puts the same schema in the OpenAPI document. Every
operation also documents the error responses in its API's OpenStack shape, the token
header and, on compute, the microversion header. A new service adds its path prefix
to `ERROR_SHAPES` (the shape its errors take in cloud.api.errors) and declares its
bodies with `@body`; tests/unit/test_openapi_schema.py fails on a route left out
or a body left untyped.
"""

import functools
import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from cloud.api.errors import BadRequest

# --- the error bodies of cloud.api.errors, as schemas ---------------------------------

_CODE_MESSAGE = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}
NOVA_ERROR = {
    "type": "object",
    "description": 'Nova\'s error shape: `{"itemNotFound": {"code": 404, "message": "..."}}`.',
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": _CODE_MESSAGE,
}
KEYSTONE_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "integer"},
                "title": {"type": "string"},
                "message": {"type": "string"},
            },
            "required": ["code", "title", "message"],
        }
    },
    "required": ["error"],
}
NEUTRON_ERROR = {
    "type": "object",
    "properties": {
        "NeutronError": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "detail": {"type": "string"},
            },
            "required": ["type", "message"],
        }
    },
    "required": ["NeutronError"],
}
PLACEMENT_ERROR = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                    "code": {"type": "string"},
                    "request_id": {"type": "string"},
                },
                "required": ["status", "title", "detail"],
            },
        }
    },
    "required": ["errors"],
}
# Path prefix -> the error body of that API (cloud.api.errors.error_body); Cinder's
# errors take Nova's shape (`{"badRequest": {"code": 400, "message": "..."}}`).
ERROR_SHAPES = {
    "/placement": PLACEMENT_ERROR,
    "/network": NEUTRON_ERROR,
    "/identity": KEYSTONE_ERROR,
    "/volume": NOVA_ERROR,
}
ERROR_DESCRIPTIONS = {
    "300": "The versions of this API (Keystone and Glance answer 300).",
    "400": "Bad request: the body, a parameter or a header is invalid.",
    "401": "No valid token.",
    "403": "Not allowed by policy.",
    "404": "Not found (or another project's).",
    "405": "Method not allowed.",
    "406": "Microversion not supported.",
    "409": "Conflicts with the resource's state.",
    "413": "Body over the size limit, or over quota.",
    "415": "Unsupported media type.",
    "429": "Too many failed logins.",
    "503": "A backing service is unavailable; retry after Retry-After seconds.",
}


SUCCESS_CODES = {
    "GET": ["200"],
    "POST": ["200", "201", "202", "204"],
    "PUT": ["200", "201", "202", "204"],
    "PATCH": ["200"],
    "DELETE": ["200", "202", "204"],
}
# Success statuses that come with a body or without one, by call and microversion.
BODY_OPTIONAL = frozenset({"201", "202"})
SUCCESS_DESCRIPTIONS = {
    "200": "OK",
    "201": "Created",
    "202": "Accepted: the work goes on in the background.",
    "204": "No content",
}
# What OpenStack-API-Version takes for compute: `compute 2.1` to `compute 2.96`, or
# `latest` (a wrong one is a 400, an unsupported one a 406).
COMPUTE_VERSION = r"^compute (2\.([1-9]|[1-8][0-9]|9[0-6])|latest)$"


def error_shape(path: str) -> dict:
    for prefix, shape in ERROR_SHAPES.items():
        if path.startswith(prefix):
            return shape
    return NOVA_ERROR


def error_codes(method: str, path: str) -> list[str]:
    """The error statuses an operation can answer: every call can be refused (400 for
    a bad header or query, 401, 403, 404 for a path naming nothing, 503 while the
    database is away); calls with a body can also be too large (413) or conflict."""
    codes = ["400", "401", "403", "404", "503"]
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        codes += ["409", "413", "415"]
    if path.startswith("/compute"):
        codes.append("406")
    if path.startswith("/placement"):
        codes.append("405")  # a method the requested microversion does not have
    if path.startswith("/identity/v3/auth/tokens"):
        codes.append("429")
    return sorted(codes)


# --- request bodies -----------------------------------------------------------------


def enveloped(key: str, serializer_class, **siblings):
    """An OpenStack request body, `{key: {...}}`, for the schema: the serializer that
    validates the inner object, under its key (and any top-level siblings, such as a
    server's `os:scheduler_hints`). Declared once, beside the view that validates with
    the same serializer, so the document and the validation cannot drift apart."""
    return inline_serializer(
        name=f"{serializer_class.__name__.removesuffix('Serializer')}Body",
        fields={key: serializer_class(), **siblings},
    )


def obj(properties: dict, *required: str, closed: bool = True, **extra) -> dict:
    """A JSON schema object: these properties, the named ones required, no others
    unless not `closed` (Nova's additionalProperties: false)."""
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def wrapped(key: str, inner: dict) -> dict:
    """`{key: inner}`, the key required and alone."""
    return obj({key: inner}, key)


def string(max_length: int = 255, min_length: int = 0, **extra) -> dict:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, **extra}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def integer(minimum: int | None = None, maximum: int = 2**31 - 1, strings: bool = False) -> dict:
    """An integer in range; with `strings`, also its ASCII digits, as Nova takes them
    (the range applies to the number, the pattern to the string)."""
    number = {"type": ["integer", "string"] if strings else "integer", "maximum": maximum}
    if minimum is not None:
        number["minimum"] = minimum
    if strings:
        number["pattern"] = r"^-?[0-9]{1,19}$"
    return number


UUID = {"type": "string", "pattern": r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"}
BOOLEAN_STRINGS = {"anyOf": [{"type": "boolean"}, {"type": "string", "maxLength": 5}]}


def one_action(actions: dict[str, dict]) -> dict:
    """An action body: one key, an action's with its own schema; another key is the
    view's 400, Nova's "There is no such action: ..." (or a removed action's 404)."""
    return {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": actions}


def _message(path: str, error) -> str:
    """jsonschema's error in the API's words: Nova's (the field is the last element of
    the error's path; none for the body itself), Neutron's, Keystone's, Placement's."""
    field = str(error.absolute_path[-1]) if error.absolute_path else ""
    value = str(error.instance)
    value = value if len(value) <= 200 else f"{value[:197]}..."
    if path.startswith("/placement"):
        return f"JSON does not validate: {error.message}"
    if path.startswith("/network"):
        return f"Invalid input for {field or 'body'}. Reason: {error.message}."
    if path.startswith("/identity"):
        return f"Invalid input for field '{field or 'body'}': {error.message}"
    if not field:
        return error.message
    return f"Invalid input for field/attribute {field}. Value: {value}. {error.message}"


def body(schema: dict, *, media_type: str = "application/json"):
    """Declare a view method's request body: validated against `schema` before the
    method runs (400 saying which field and why), and documented with it."""
    validator = Draft202012Validator(schema)

    def decorate(method):
        @functools.wraps(method)
        def validated(view, request, *args, **kwargs):
            error = best_match(validator.iter_errors(request.data))
            if error is not None:
                raise BadRequest(_message(request.path, error))
            return method(view, request, *args, **kwargs)

        return extend_schema(request={media_type: schema})(validated)

    return decorate


# --- the document -------------------------------------------------------------------


def drop_slash_aliases(endpoints):
    """`/compute/v2.1` and `/compute/v2.1/` are one resource: document it once."""
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]


class OpenStackSchema(AutoSchema):
    def get_operation_id(self):
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self.view).__name__).lower()
        return f"{name.removesuffix('_view')}_{self.method.lower()}"

    def _get_serializer(self):
        # A body nobody declared is an untyped object here, which
        # tests/unit/test_openapi_schema.py refuses: declare it, or `request=None`.
        if hasattr(self.view, "serializer_class"):
            return self.view.serializer_class
        return OpenApiTypes.OBJECT

    def get_request_serializer(self):
        if self.method in ("GET", "DELETE", "HEAD"):
            return None
        return super().get_request_serializer()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # The success statuses of a method vary with the microversion (a keypair is 200
        # before 2.2, 201 from it): each operation documents those its method may answer.
        for code in SUCCESS_CODES[self.method]:
            if code in BODY_OPTIONAL:
                # Nova's actions, Cinder's deletes and placement's creates before 1.20
                # answer these with no body, other calls and microversions with one:
                # documented with no media type, either is what the document says.
                responses[code] = {"description": SUCCESS_DESCRIPTIONS[code]}
            elif code not in responses:
                body = {} if code == "204" else {"content": {"application/json": {"schema": {}}}}
                responses[code] = {"description": SUCCESS_DESCRIPTIONS[code], **body}
        shape = error_shape(self.path)
        for code in error_codes(self.method, self.path):
            responses.setdefault(
                code,
                {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": shape}},
                },
            )
        return responses

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.path.startswith("/compute/v2.1/"):
            params.append(
                OpenApiParameter(
                    "OpenStack-API-Version",
                    {"type": "string", "pattern": COMPUTE_VERSION},
                    OpenApiParameter.HEADER,
                    description="Compute microversion, e.g. `compute 2.96` (default 2.1).",
                )
            )
        return params


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cloud.identity.authentication.TokenAuthentication"
    name = "KeystoneToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cloud.identity.authentication.ProjectSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "sessionid"}
