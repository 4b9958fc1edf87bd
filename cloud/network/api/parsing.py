"""Reading Neutron request bodies: `{"<resource>": {attributes}}`, each attribute
converted as Neutron converts it (booleans also as "true"/"false" strings), unknown
ones a 400, and list filters (`?name=a&name=b`, `?fields=`)."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema

from cloud.api.errors import BadRequest
from cloud.api.parsing import INT64_MAX, InvalidValue, parse_int

UNSET = object()


def text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a valid string.")
    if len(value) > 255:
        raise BadRequest(
            f"Invalid input for {name}. Reason: '{value}' exceeds maximum length of 255."
        )
    return value


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise BadRequest(f"Invalid input for {name}. Reason: '{value}' cannot be converted to boolean.")


def integer_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not an integer.")
    try:
        return parse_int(value, name=name, maximum=INT64_MAX)
    except InvalidValue:
        raise BadRequest(
            f"Invalid input for {name}. Reason: '{value}' is not an integer."
        ) from None


def listing(name: str, value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a list.")
    return value


def optional_text(name: str, value: Any) -> str | None:
    return None if value is None else text(name, value)


def anything(name: str, value: Any) -> Any:
    return value


def body_of(
    request,
    resource: str,
    allowed: dict[str, Callable[[str, Any], Any]],
    ignored: set[str] = frozenset(),
) -> dict[str, Any]:
    """The resource's attributes from the request body, converted; 400 for a missing
    wrapper or an attribute Stratus does not know."""
    data = request.data if isinstance(request.data, dict) else None
    attrs = data.get(resource) if data is not None else None
    if not isinstance(attrs, dict):
        raise BadRequest(f"Resource body required: a '{resource}' object.")
    unknown = sorted(set(attrs) - set(allowed) - set(ignored))
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    return {key: allowed[key](key, value) for key, value in attrs.items() if key in allowed}


def _matches(body: dict, key: str, wanted: list[str]) -> bool:
    if key == "fixed_ips":
        # ?fixed_ips=ip_address=10.0.0.5 / subnet_id=...
        for condition in wanted:
            field, _, value = condition.partition("=")
            if not any(str(f.get(field)) == value for f in body.get("fixed_ips", [])):
                return False
        return True
    if key not in body:
        return True
    value = body[key]
    if isinstance(value, bool):
        return any(w.lower() == str(value).lower() for w in wanted)
    if isinstance(value, list):
        return any(w in [str(v) for v in value] for w in wanted)
    return any(w == ("" if value is None else str(value)) for w in wanted)


IGNORED_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}


def filtered(request, bodies: list[dict]) -> list[dict]:
    """Neutron's list filters: every query parameter (but paging and fields) names an
    attribute the rows must have (one of the values, when repeated); then `fields`."""
    params = request.GET
    conditions = {
        key: params.getlist(key)
        for key in params
        if key not in IGNORED_PARAMS and key not in ("tenant_id", "project_id")
    }
    owners = params.getlist("project_id") + params.getlist("tenant_id")
    rows = [b for b in bodies if all(_matches(b, k, v) for k, v in conditions.items())]
    if owners:
        rows = [b for b in rows if b.get("project_id") in owners]
    marker = params.get("marker")
    if marker:
        ids = [b["id"] for b in rows]
        rows = rows[ids.index(marker) + 1 :] if marker in ids else rows
    limit = params.get("limit")
    if limit:
        count = integer_or_none("limit", limit) or 0
        if count > 0:
            rows = rows[:count]
    fields = params.getlist("fields")
    if fields:
        rows = [{k: v for k, v in b.items() if k in fields} for b in rows]
    return rows


# The JSON schema of each converter, for the OpenAPI document: what it takes.
_NULL_OR = {"type": "null"}
CONVERTER_SCHEMAS: dict[Callable, dict] = {
    text: {"anyOf": [{"type": "string", "maxLength": 255}, _NULL_OR]},
    optional_text: {"anyOf": [{"type": "string", "maxLength": 255}, _NULL_OR]},
    boolean: {
        "anyOf": [{"type": "boolean"}, {"enum": ["true", "false", "True", "False", "1", "0"]}]
    },
    integer_or_none: {
        "anyOf": [
            {"type": "integer", "minimum": -INT64_MAX - 1, "maximum": INT64_MAX},
            {"type": "string", "pattern": r"^-?[0-9]{1,18}$"},
            _NULL_OR,
        ]
    },
    listing: {"anyOf": [{"type": "array"}, _NULL_OR]},
    anything: {},
}


class NeutronBody:
    """One operation's body, `{resource: {attribute: value}}`, declared once: `parse`
    converts a request's (body_of), `schema` is the same declaration for the OpenAPI
    document, and `declared` puts it there for a view method."""

    def __init__(
        self,
        resource: str,
        allowed: dict[str, Callable[[str, Any], Any]],
        ignored: set[str] = frozenset(),
    ) -> None:
        self.resource = resource
        self.allowed = allowed
        self.ignored = set(ignored)

    def parse(self, request) -> dict[str, Any]:
        return body_of(request, self.resource, self.allowed, self.ignored)

    @property
    def schema(self) -> dict:
        properties = {name: CONVERTER_SCHEMAS[convert] for name, convert in self.allowed.items()}
        properties.update({name: {} for name in sorted(self.ignored)})
        inner = {"type": "object", "properties": properties, "additionalProperties": False}
        return {
            "type": "object",
            "properties": {self.resource: inner},
            "required": [self.resource],
        }

    def declared(self, method):
        return extend_schema(request={"application/json": self.schema})(method)
