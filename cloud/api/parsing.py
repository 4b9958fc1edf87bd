"""The one parser of numbers and identifiers a client sends: integers, floats, UUIDs
and version strings, in paths, query strings, headers and bodies.

Python's own parsers are too forgiving for request data: `str.isdigit()` is true for
`²` and `٣`, `int()` takes Unicode digits, spaces and underscores and refuses more
than 4,300 digits with a ValueError, `float()` takes `inf` and `nan`, and
`uuid.UUID()` takes braces, `urn:uuid:` and non-ASCII digits. Here a number is ASCII
digits of a bounded length, range-checked to what the database column holds, and a
UUID is 32 ASCII hex digits (dashed or not). A wrong value raises `BadRequest` (400,
shaped by cloud.api.errors) naming the field; `InvalidValue` is what the non-raising
checks (URL converters, selectors) catch. A unit test
(tests/unit/test_input_parsing.py) fails on any other parse of request data in cloud/.
"""

import math
import re
import uuid as uuidlib

from cloud.api.errors import BadRequest

# What the columns hold: PostgreSQL's integer and bigint.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

_INT_RE = re.compile(r"-?[0-9]{1,19}")
_FLOAT_RE = re.compile(r"-?[0-9]{1,19}(\.[0-9]{1,64})?([eE][-+]?[0-9]{1,4})?")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_VERSION_RE = re.compile(r"([1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")


class InvalidValue(BadRequest):
    """A value from a request that is not what its field takes (400)."""


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 64 else f"{text[:61]}..."


def parse_int(
    value,
    *,
    name: str,
    minimum: int | None = None,
    maximum: int = INT32_MAX,
    strings: bool = True,
) -> int:
    """An integer from a JSON number (never a bool or a float such as 10.7) or, when
    `strings`, from a string of ASCII digits with an optional minus sign; within
    [minimum, maximum] (maximum defaults to what an integer column holds)."""
    if isinstance(value, bool):
        raise InvalidValue(
            f"Invalid input for field/attribute {name}: {value!r} is not an integer."
        )
    if isinstance(value, int):
        number = value
    elif strings and isinstance(value, str) and _INT_RE.fullmatch(value):
        number = int(value, 10)
    else:
        raise InvalidValue(
            f"Invalid input for field/attribute {name}: {_describe(value)} is not an integer."
        )
    low = -INT64_MAX - 1 if minimum is None else minimum
    if not low <= number <= maximum:
        bound = f"between {minimum} and {maximum}" if minimum is not None else f"<= {maximum}"
        raise InvalidValue(f"Invalid input for field/attribute {name}: {number} must be {bound}.")
    return number


def parse_float(value, *, name: str, strings: bool = True) -> float:
    """A finite float from a JSON number or, when `strings`, from an ASCII decimal
    string; never inf or nan (`1e999` is a 400)."""
    if isinstance(value, bool):
        raise InvalidValue(f"Invalid input for field/attribute {name}: {value!r} is not a number.")
    if isinstance(value, int):
        if abs(value) > INT64_MAX:
            raise InvalidValue(f"Invalid input for field/attribute {name}: {value} is too large.")
        number = float(value)
    elif isinstance(value, float):
        number = value
    elif strings and isinstance(value, str) and _FLOAT_RE.fullmatch(value):
        number = float(value)
    else:
        raise InvalidValue(
            f"Invalid input for field/attribute {name}: {_describe(value)} is not a number."
        )
    if not math.isfinite(number):
        raise InvalidValue(
            f"Invalid input for field/attribute {name}: {_describe(value)} is not a finite number."
        )
    return number


def is_uuid(value) -> bool:
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def parse_uuid(value, *, name: str) -> str:
    """A UUID from a string of 32 ASCII hex digits, dashed or not; its dashed form."""
    if not is_uuid(value):
        raise InvalidValue(
            f"Invalid input for field/attribute {name}: {_describe(value)} is not a valid UUID."
        )
    return str(uuidlib.UUID(hex=value.replace("-", "")))


def to_uuid(value, *, name: str) -> uuidlib.UUID:
    """parse_uuid, as a uuid.UUID (for a filter on a UUID column)."""
    return uuidlib.UUID(parse_uuid(value, name=name))


def uuid_or_none(value) -> uuidlib.UUID | None:
    """The UUID in value, or None when it is none (a lookup that then finds nothing)."""
    return uuidlib.UUID(hex=value.replace("-", "")) if is_uuid(value) else None


def parse_version(text, *, name: str = "version") -> tuple[int, int]:
    """MAJOR.MINOR in ASCII digits (at most nine each): a microversion or a payload
    version. Thousands of digits are a 400, not a ValueError deep in int()."""
    if not isinstance(text, str) or not _VERSION_RE.fullmatch(text):
        raise InvalidValue(f"Invalid {name} {_describe(text)}: expected MAJOR.MINOR.")
    major, minor = text.split(".")
    return int(major, 10), int(minor, 10)
