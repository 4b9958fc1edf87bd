"""Placement's query strings: which parameters each microversion takes, and how
`resources=`, `required=`, `member_of=` and `in_tree=` read.

    resources=VCPU:1,MEMORY_MB:512
    required=HW_CPU_X86_AVX,!CUSTOM_SLOW      (forbidden with ! from 1.22)
    required=in:COMPUTE_A,COMPUTE_B           (any of them, from 1.39; repeatable)
    member_of=in:<agg>,<agg>  member_of=!<agg> (repeatable from 1.24, ! from 1.32)
"""

from cloud.api.errors import BadRequest
from cloud.api.microversions import APIVersion
from cloud.api.parsing import InvalidValue, is_uuid, parse_int, parse_uuid
from cloud.placement import standard
from cloud.placement.selectors import MemberOf, ProviderFilter, TraitFilter

DUPLICATE_KEY = "placement.query.duplicate_key"
BAD_VALUE = "placement.query.bad_value"


def checked(params, version: APIVersion, allowed: dict[str, str]) -> None:
    """400 for a parameter this microversion does not know ({name: first version}), and
    for a parameter given twice that may not repeat."""
    unknown = sorted(k for k in params if k not in allowed or not version.at_least(allowed[k]))
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise BadRequest(
            "Invalid query string parameters: Additional properties are not allowed "
            f"({listed} {verb} unexpected)"
        )
    repeatable = {"member_of"} if version.at_least("1.24") else set()
    if version.at_least("1.39"):
        repeatable.add("required")
    for key in params:
        if len(params.getlist(key)) > 1 and key not in repeatable:
            raise BadRequest(
                f"Invalid query string parameters: Expected only one '{key}' parameter.",
                code=DUPLICATE_KEY,
            )


def uuid_param(name: str, value: str) -> str:
    if not is_uuid(value):
        raise BadRequest(
            f"Invalid query string parameters: '{value}' is not a valid UUID for '{name}'."
        )
    return parse_uuid(value, name=name)


def resources(text: str) -> dict[str, int]:
    """`VCPU:1,MEMORY_MB:512` as {class: amount}, each amount a positive integer."""
    found: dict[str, int] = {}
    for item in text.split(","):
        rc, sep, amount = item.partition(":")
        if not sep or not rc or rc in found:
            raise BadRequest(
                "Badly formed resources parameter. Expected resources query string parameter "
                f"in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {text}.",
                code=BAD_VALUE,
            )
        try:
            found[rc] = parse_int(amount, name=rc, minimum=1)
        except InvalidValue:
            raise BadRequest(
                f"Requested resource {rc} expected positive integer amount. Got: {amount}.",
                code=BAD_VALUE,
            ) from None
    return found


def traits(values: list[str], version: APIVersion) -> TraitFilter:
    """The `required` parameters: NAME (must have), !NAME (must lack, 1.22), in:A,B (one
    of them, 1.39)."""
    required: set[str] = set()
    forbidden: set[str] = set()
    any_of: list[frozenset[str]] = []
    for value in values:
        if value.startswith("in:") and version.at_least("1.39"):
            names = value[3:].split(",")
            if not all(standard.NAME.match(n) for n in names):
                raise _bad_traits(value)
            any_of.append(frozenset(names))
            continue
        for name in value.split(","):
            if name.startswith("!") and version.at_least("1.22"):
                forbidden.add(name[1:])
            else:
                required.add(name)
        if not all(standard.NAME.match(n) for n in (*required, *forbidden)):
            raise _bad_traits(value)
    both = required & forbidden
    if both:
        raise BadRequest(
            "Conflicting required and forbidden traits found in the following traits keys: "
            f"required: ({', '.join(sorted(both))})"
        )
    return TraitFilter(frozenset(required), frozenset(forbidden), tuple(any_of))


def _bad_traits(value: str) -> BadRequest:
    return BadRequest(
        "Invalid query string parameters: Expected 'required' parameter value of the form: "
        f"HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {value}",
        code=BAD_VALUE,
    )


def member_of(values: list[str], version: APIVersion) -> tuple[MemberOf, ...]:
    """The `member_of` parameters: an aggregate, in:any,of,these, and from 1.32 the same
    with ! for none of them."""
    found = []
    for value in values:
        text, forbidden = value, False
        if text.startswith("!") and version.at_least("1.32"):
            text, forbidden = text[1:], True
        listed = text.startswith("in:")
        aggregates = text[3:].split(",") if listed else [text]
        try:
            found.append(
                MemberOf(
                    tuple(parse_uuid(a, name="member_of") for a in aggregates),
                    forbidden=forbidden,
                )
            )
        except InvalidValue:
            raise BadRequest(
                "Invalid query string parameters: Expected 'member_of' parameter to contain "
                f"valid UUID(s). Got: {value}",
                code=BAD_VALUE,
            ) from None
        if not listed and len(aggregates) > 1:
            raise BadRequest(
                "Invalid query string parameters: Expected 'member_of' parameter with "
                f"several UUIDs to start with 'in:'. Got: {value}",
                code=BAD_VALUE,
            )
    return tuple(found)


PROVIDER_PARAMS = {
    "name": "1.0",
    "uuid": "1.0",
    "member_of": "1.3",
    "resources": "1.4",
    "in_tree": "1.14",
    "required": "1.18",
}

CANDIDATE_PARAMS = {
    "resources": "1.10",
    "limit": "1.16",
    "required": "1.17",
    "member_of": "1.21",
    "group_policy": "1.25",
    "in_tree": "1.31",
    "root_required": "1.35",
}


def provider_filter(params, version: APIVersion) -> ProviderFilter:
    """GET /resource_providers's filters."""
    checked(params, version, PROVIDER_PARAMS)
    return ProviderFilter(
        name=params.get("name"),
        uuid=uuid_param("uuid", params["uuid"]) if "uuid" in params else None,
        member_of=member_of(params.getlist("member_of"), version),
        resources=resources(params["resources"]) if "resources" in params else {},
        traits=traits(params.getlist("required"), version),
        in_tree=uuid_param("in_tree", params["in_tree"]) if "in_tree" in params else None,
    )


def candidate_filter(params, version: APIVersion) -> tuple[ProviderFilter, int | None]:
    """GET /allocation_candidates's filters, and its limit."""
    checked(params, version, CANDIDATE_PARAMS)
    if "resources" not in params:
        raise BadRequest("Invalid query string parameters: 'resources' is a required property")
    limit = params.get("limit")
    if limit is not None:
        try:
            limit = parse_int(limit, name="limit", minimum=1)
        except InvalidValue:
            raise BadRequest(
                f"Invalid query string parameters: 'limit' must be a positive integer. Got: {limit}"
            ) from None
    if params.get("group_policy", "none") not in ("none", "isolate"):
        raise BadRequest(
            "Invalid query string parameters: 'group_policy' must be 'none' or 'isolate'."
        )
    root = traits(params.getlist("root_required"), version)
    if root.any_of:
        raise _bad_traits(params["root_required"])
    return (
        ProviderFilter(
            member_of=member_of(params.getlist("member_of"), version),
            resources=resources(params["resources"]),
            traits=traits(params.getlist("required"), version),
            in_tree=uuid_param("in_tree", params["in_tree"]) if "in_tree" in params else None,
            root_traits=root,
        ),
        limit,
    )
