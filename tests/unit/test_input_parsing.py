"""One parser for what clients send (cloud/api/parsing.py), and a check that nothing
under cloud/ parses it any other way.

The check parses each module (never imports it) and fails on:
- any `.isdigit()`, `.isnumeric()` or `.isdecimal()` call, anywhere under cloud/: all
  three are true for digits such as "²" or "٣" that int() refuses or reads as a
  number;
- any `int(...)`, `float(...)` or `UUID(...)` call outside cloud/api/parsing.py and the
  compute side (which receives no request): these take spaces, underscores, Unicode
  digits, `inf`, braces or `urn:uuid:`, and raise ValueError where a 400 is due.
  The few calls on values that come from settings, the database or the code itself
  are listed in ALLOWED with the reason; a new call fails until it uses the parser or
  is listed here, which the merge then shows.
"""

import ast
import uuid
from pathlib import Path

import pytest

from cloud.api.errors import BadRequest
from cloud.api.parsing import (
    INT32_MAX,
    parse_float,
    parse_int,
    parse_uuid,
    parse_version,
    uuid_or_none,
)

CLOUD = Path(__file__).resolve().parents[2] / "cloud"
PARSER = CLOUD / "api" / "parsing.py"
# The compute side has no API and no database (tests/unit/test_compute_imports.py).
COMPUTE_SIDE = (
    CLOUD / "workers",
    CLOUD / "netagent",
    CLOUD / "volumeworker",
    CLOUD / "payloads.py",
    CLOUD / "messaging.py",
    CLOUD / "power_state.py",
)
DIGIT_CHECKS = frozenset({"isdigit", "isnumeric", "isdecimal"})
CONVERSIONS = frozenset({"int", "float", "UUID"})

# (module, call as written): why it is no request data.
ALLOWED = {
    ("identity/quotas.py", "int(settings.QUOTA_DEFAULTS[name])"): "settings",
    ("settings.py", "int(seconds)"): "the environment, read at start",
    ("scheduler/weighers/resources.py", "float(host.free.get(self.resource_class, 0))"): "db",
    ("scheduler/weighers/resources.py", "float(host.free.get(rc, 0))"): "database",
    ("scheduler/weighers/__init__.py", "float(getattr(settings, self.multiplier_setting))"): "conf",
    ("scheduler/weighers/failures.py", "float(host.failed_builds)"): "database",
    ("scheduler/filters/groups.py", "int(rules.get('max_server_per_host', 1))"): "checked rules",
    ("placement/claims.py", "int(pk)"): "ids the claim's own SQL returned",
    ("placement/models.py", "int((total - reserved) * allocation_ratio)"): "database",
    ("identity/throttle.py", "int(time.time())"): "the clock",
    ("images/transfer.py", "int(time.time())"): "the clock",
    ("identity/quotas.py", "int(settings.NETWORK_QUOTA_DEFAULTS[name])"): "settings",
    ("network/vlans.py", "int(parts[1])"): "NETWORK_VLAN_RANGES, read at start",
    ("network/vlans.py", "int(parts[2])"): "NETWORK_VLAN_RANGES, read at start",
    ("images/transfer.py", "int(ttl)"): "the code's own token lifetime",
    ("images/formats.py", "int(info['virtual-size'])"): "qemu-img's JSON output",
    ("instances/notifications.py", "int(flavor.get('vcpus', 0))"): "the instance's flavor copy",
    ("instances/notifications.py", "int(flavor.get('memory_mb', 0))"): "the flavor copy",
    ("instances/notifications.py", "int(flavor.get('root_gb', 0))"): "the flavor copy",
    ("observability/metrics.py", "int(port)"): "the environment, read at start",
    ("operators/selectors.py", "int((now - start).total_seconds() // 60)"): "the clock",
}


def _under(path: Path, roots) -> bool:
    return any(path == root or root in path.parents for root in roots)


def violations(source: str, *, conversions: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in DIGIT_CHECKS:
            found.append((node.lineno, ast.unparse(node)))
        # int(...), float(...), UUID(...) and uuid.UUID(...), not env.int(...).
        name = func.id if isinstance(func, ast.Name) else None
        if isinstance(func, ast.Attribute) and func.attr == "UUID":
            name = "UUID"
        if conversions and name in CONVERSIONS:
            found.append((node.lineno, ast.unparse(node)))
    return found


def _modules():
    for path in sorted(CLOUD.rglob("*.py")):
        if "migrations" in path.parts or path == PARSER:
            continue
        yield path


def test_nothing_parses_request_data_but_the_parser():
    bad = []
    for path in _modules():
        rel = str(path.relative_to(CLOUD))
        conversions = not _under(path, COMPUTE_SIDE)
        for line, call in violations(path.read_text(), conversions=conversions):
            if (rel, call) not in ALLOWED:
                bad.append(f"cloud/{rel}:{line}: {call}")
    assert not bad, (
        "parse request data with cloud.api.parsing (parse_int, parse_float, parse_uuid, "
        "uuid_or_none, parse_version), or list a call on trusted data in ALLOWED:\n"
        + "\n".join(bad)
    )


def test_allowed_calls_still_exist():
    """An entry whose call is gone must go too, or it would let a new one through."""
    seen = set()
    for path in _modules():
        rel = str(path.relative_to(CLOUD))
        seen |= {(rel, call) for _, call in violations(path.read_text(), conversions=True)}
    assert set(ALLOWED) - seen == set()


def test_the_checker_catches_what_it_must():
    source = (
        "a = x.isdigit()\nb = int(request.GET['limit'])\nc = uuid.UUID(value)\n"
        "d = float(body['q'])\ne = s.isdecimal() or s.isnumeric()\n"
    )
    assert len(violations(source, conversions=True)) == 6
    assert len(violations(source, conversions=False)) == 3
    assert violations("x = parse_int(v, name='limit')\ny = len(z)\n", conversions=True) == []


@pytest.mark.parametrize("text", ["²", "٣", "1_000", " 5", "5 ", "+5", "0x10", "", "1" * 20])
def test_int_refuses_what_python_takes(text):
    with pytest.raises(BadRequest):
        parse_int(text, name="limit")


@pytest.mark.parametrize("value", [10.7, 10.0, True, None, [], {}, "10.7", "1e3"])
def test_int_refuses_other_types(value):
    with pytest.raises(BadRequest):
        parse_int(value, name="instances")


def test_int_ranges():
    assert parse_int("42", name="x") == 42
    assert parse_int(-1, name="x", minimum=-1) == -1
    assert parse_int(str(INT32_MAX), name="x") == INT32_MAX
    with pytest.raises(BadRequest, match="between 0"):
        parse_int(-1, name="x", minimum=0)
    with pytest.raises(BadRequest):
        parse_int(INT32_MAX + 1, name="x")
    with pytest.raises(BadRequest):
        parse_int("9" * 19, name="offset")
    with pytest.raises(BadRequest):
        parse_int(10**30, name="x")
    with pytest.raises(BadRequest, match="integer"):
        parse_int("5", name="x", strings=False)


@pytest.mark.parametrize("text", ["1e999", "inf", "nan", "-Infinity", "1" * 25, "١.٥"])
def test_float_refuses_non_finite_and_odd_digits(text):
    with pytest.raises(BadRequest):
        parse_float(text, name="q")


def test_float_takes_numbers():
    assert parse_float("1.5e3", name="q") == 1500.0
    assert parse_float(3, name="q") == 3.0
    with pytest.raises(BadRequest):
        parse_float(float("inf"), name="q")


def test_uuid():
    value = uuid.uuid4()
    assert parse_uuid(str(value), name="id") == str(value)
    assert parse_uuid(value.hex.upper(), name="id") == str(value)
    for bad in (f"{{{value}}}", f"urn:uuid:{value}", "٣" * 32, 42, None, ["x"], value.hex[:-1]):
        with pytest.raises(BadRequest):
            parse_uuid(bad, name="id")
        assert uuid_or_none(bad) is None
    assert uuid_or_none(str(value)) == value


def test_version():
    assert parse_version("2.96") == (2, 96)
    for bad in ("2." + "9" * 5000, "٢.١", "2.01", "02.1", "2", "2.1.1", " 2.1", None):
        with pytest.raises(BadRequest):
            parse_version(bad)
