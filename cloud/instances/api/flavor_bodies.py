"""Request bodies of the flavor API, checked as Nova's JSON schemas check them (400 with
Nova's "Invalid input for field/attribute" message) before any row is written."""

import re

from cloud.api.errors import BadRequest
from cloud.api.microversions import APIVersion
from cloud.api.parsing import INT64_MAX, InvalidValue, parse_float, parse_int
from cloud.instances.api.serializers import printable
from cloud.instances.flavors import FlavorCreate

MAX_INT = 0x7FFFFFFF
MAX_FLOAT = 3.40282e38
FLAVOR_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789. _-")
BOOLEANS = {
    **dict.fromkeys(("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"), True),
    **dict.fromkeys(("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"), False),
}
PUBLIC = "os-flavor-access:is_public"
CREATE_KEYS = {
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
}


def invalid(field: str, value, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def wrapped(data, key: str) -> dict:
    """The object under `key`, the body's only key (Nova's additionalProperties: false)."""
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise BadRequest(f"Invalid input for field/attribute {key}. '{key}' is a required object")
    unknown = sorted(set(data) - {key})
    if unknown:
        raise BadRequest(
            f"Additional properties are not allowed ({', '.join(map(repr, unknown))} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )
    return data[key]


def only(body: dict, allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute {what}. Value: {body}. Additional properties "
            f"are not allowed ({', '.join(map(repr, unknown))} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )


def _name(value) -> str:
    if not isinstance(value, str):
        raise invalid("name", value, f"{value!r} is not of type 'string'")
    if not 1 <= len(value) <= 255:
        raise invalid("name", value, "must be 1 to 255 characters long")
    if value != value.strip() or not all(map(printable, value)):
        raise invalid(
            "name",
            value,
            "must not start or end with whitespace, nor contain non-printable characters",
        )
    return value


def _flavor_id(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise invalid("id", value, f"{value!r} is not of type 'string', 'number', 'null'")
    if not isinstance(value, str):
        return str(value)
    if not 1 <= len(value) <= 255:
        raise invalid("id", value, "must be 1 to 255 characters long")
    if value != value.strip() or not set(value) <= FLAVOR_ID_CHARS:
        raise invalid(
            "id", value, "only letters, digits, '.', ' ', '_' and '-' (no space at either end)"
        )
    return value


def _integer(field: str, value, low: int) -> int:
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,19}", value):
        raise invalid(field, value, f"{value!r} is not of type 'integer', 'string'")
    try:
        number = parse_int(value, name=field, maximum=INT64_MAX)
    except InvalidValue:
        raise invalid(field, value, f"{value!r} is not of type 'integer', 'string'") from None
    if not low <= number <= MAX_INT:
        raise invalid(field, value, f"must be between {low} and {MAX_INT}")
    return number


def _rxtx_factor(value) -> float:
    try:
        number = parse_float(value, name="rxtx_factor")
    except InvalidValue:
        raise invalid(
            "rxtx_factor", value, f"{value!r} is not of type 'number', 'string'"
        ) from None
    if not 0 < number <= MAX_FLOAT:
        raise invalid("rxtx_factor", value, f"must be a float between 0 and {MAX_FLOAT:g}")
    return number


def boolean(field: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in BOOLEANS:
        return BOOLEANS[value]
    raise invalid(field, value, f"{value!r} is not a boolean")


def description(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("description", value, f"{value!r} is not of type 'string', 'null'")
    if len(value) > 65535 or not all(map(printable, value)):
        raise invalid("description", value, "must be 65535 printable characters at most")
    return value


def flavor_create_parse(data, version: APIVersion) -> FlavorCreate:
    """POST /flavors: name, ram, vcpus and disk required; description from 2.55."""
    body = wrapped(data, "flavor")
    allowed = CREATE_KEYS | ({"description"} if version.at_least("2.55") else set())
    only(body, allowed, "flavor")
    missing = [key for key in ("name", "ram", "vcpus", "disk") if key not in body]
    if missing:
        raise BadRequest(
            f"Invalid input for field/attribute flavor. Value: {body}. "
            f"'{missing[0]}' is a required property"
        )
    return FlavorCreate(
        name=_name(body["name"]),
        flavorid=_flavor_id(body.get("id")),
        memory_mb=_integer("ram", body["ram"], 1),
        vcpus=_integer("vcpus", body["vcpus"], 1),
        root_gb=_integer("disk", body["disk"], 0),
        ephemeral_gb=_integer(
            "OS-FLV-EXT-DATA:ephemeral", body.get("OS-FLV-EXT-DATA:ephemeral", 0), 0
        ),
        swap=_integer("swap", body.get("swap", 0), 0),
        rxtx_factor=_rxtx_factor(body.get("rxtx_factor", 1.0)),
        is_public=boolean(
            "os-flavor-access:is_public", body.get("os-flavor-access:is_public", True)
        ),
        description=description(body.get("description")),
    )


def flavor_update_parse(data) -> str | None:
    """PUT /flavors/{id} (2.55): the description, required, and nothing else."""
    body = wrapped(data, "flavor")
    only(body, {"description"}, "flavor")
    if "description" not in body:
        raise BadRequest(
            f"Invalid input for field/attribute flavor. Value: {body}. "
            "'description' is a required property"
        )
    return description(body["description"])


def tenant_parse(body, action: str) -> str:
    """addTenantAccess / removeTenantAccess: {"tenant": "<project id>"}."""
    if not isinstance(body, dict):
        raise invalid(action, body, f"{body!r} is not of type 'object'")
    only(body, {"tenant"}, action)
    tenant = body.get("tenant")
    if not isinstance(tenant, str) or not 1 <= len(tenant) <= 255:
        raise invalid("tenant", tenant, "a project id (a string of 1 to 255 characters)")
    return tenant
