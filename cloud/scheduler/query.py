"""The language of the `query` scheduler hint (Nova's JsonFilter): parsing, validation
and evaluation against a candidate host.

A query is a prefix expression in JSON, given as a JSON string or already decoded:
`["and", [">=", "$free_ram_mb", 1024], ["=", "$hypervisor_type", "QEMU"]]`. Operators:
`=`, `<`, `>`, `<=`, `>=` (the first operand against each of the others, true when all
hold), `in` (the first operand equals one of the others), `not` (one operand), `and`,
`or`. Operands are nested expressions, literals (numbers, strings, true/false) and
`$variables`, read from the host (VARIABLES).

Nova evaluates whatever it is given and drops what it cannot read; here a query is
checked whole when the server is created (`parse`, used by the API and the filter
alike), so a mistake is a 400 naming it rather than hosts silently let through or
removed: unknown operators and variables, too few operands, `not` of several, logical
operators over non-booleans, and comparisons across kinds (a number with a string).
"""

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cloud.api.parsing import InvalidValue, parse_float
from cloud.scheduler.request import HostState

Kind = Literal["number", "string", "boolean"]
Value = bool | int | float | str

# Bounds on what one query may cost: it is evaluated on every candidate host.
MAX_LENGTH = 8192  # characters, as JSON
MAX_DEPTH = 32


class QueryError(ValueError):
    """A query that is not a valid expression (the message says why)."""


def _used(host: HostState, rc: str) -> int:
    return host.capacity.get(rc, 0) - host.free.get(rc, 0)


@dataclass(frozen=True)
class _VariableSpec:
    kind: Kind
    read: Callable[[HostState], Value]


# Nova's HostState names, read from placement: capacity is what placement hands out
# (total less reserved, times the allocation ratio); disk is counted in whole GB.
VARIABLES: dict[str, _VariableSpec] = {
    "host": _VariableSpec("string", lambda h: h.name),
    "hypervisor_type": _VariableSpec("string", lambda h: h.hypervisor_type),
    "free_ram_mb": _VariableSpec("number", lambda h: h.free.get("MEMORY_MB", 0)),
    "total_usable_ram_mb": _VariableSpec("number", lambda h: h.capacity.get("MEMORY_MB", 0)),
    "free_disk_mb": _VariableSpec("number", lambda h: h.free.get("DISK_GB", 0) * 1024),
    "disk_mb_used": _VariableSpec("number", lambda h: _used(h, "DISK_GB") * 1024),
    "total_usable_disk_gb": _VariableSpec("number", lambda h: h.capacity.get("DISK_GB", 0)),
    "vcpus_total": _VariableSpec("number", lambda h: h.capacity.get("VCPU", 0)),
    "vcpus_used": _VariableSpec("number", lambda h: _used(h, "VCPU")),
    "failed_builds": _VariableSpec("number", lambda h: h.failed_builds),
}

_ORDERINGS: dict[str, Callable[[Value, Value], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_COMPARISONS = ("=", "in", *_ORDERINGS)
_LOGICAL = ("and", "or", "not")
OPERATORS = (*_COMPARISONS, *_LOGICAL)


@dataclass(frozen=True)
class Variable:
    name: str

    def value(self, host: HostState) -> Value:
        return VARIABLES[self.name].read(host)


@dataclass(frozen=True)
class Expression:
    op: str
    operands: tuple["Expression | Variable | Value", ...]

    def matches(self, host: HostState) -> bool:
        if self.op == "and":
            return all(_value(o, host) for o in self.operands)
        if self.op == "or":
            return any(_value(o, host) for o in self.operands)
        if self.op == "not":
            return not _value(self.operands[0], host)
        first, *others = (_value(o, host) for o in self.operands)
        if self.op == "in":
            return first in others
        if self.op == "=":
            return all(first == other for other in others)
        compare = _ORDERINGS[self.op]
        return all(compare(first, other) for other in others)


def _value(operand: Expression | Variable | Value, host: HostState) -> Value:
    if isinstance(operand, Expression):
        return operand.matches(host)
    if isinstance(operand, Variable):
        return operand.value(host)
    return operand


@dataclass(frozen=True)
class Query:
    """A checked query: its JSON text (what the request spec stores) and its expression."""

    text: str
    expression: Expression

    def matches(self, host: HostState) -> bool:
        return self.expression.matches(host)


def parse(query: object) -> Query | None:
    """The query, checked (QueryError when it is malformed); None when it is empty (""
    or [], which Nova takes as no query)."""
    if query in ("", []):
        return None
    if isinstance(query, str):
        text = query
    elif isinstance(query, list):
        try:
            text = json.dumps(query, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise QueryError("not a JSON expression") from None
    else:
        raise QueryError("must be a JSON string or list")
    if len(text) > MAX_LENGTH:
        raise QueryError(f"longer than {MAX_LENGTH} characters")
    try:
        decoded = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except InvalidValue:
        raise QueryError("numbers must be finite (1e999 is not)") from None
    except RecursionError:
        raise QueryError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise QueryError(f"not valid JSON ({exc})") from None
    if decoded == []:
        return None
    expression, _ = _expression(decoded, depth=1)
    return Query(text=json.dumps(decoded), expression=expression)


def _finite(text: str) -> float:
    return parse_float(text, name="query")


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def _expression(term: object, depth: int) -> tuple[Expression, Kind]:
    if depth > MAX_DEPTH:
        raise QueryError(f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(term, list) or not term:
        raise QueryError(f"{json.dumps(term)} is not an expression [operator, operand, ...]")
    op, *args = term
    if op not in OPERATORS:
        known = ", ".join(OPERATORS)
        raise QueryError(f"unknown operator {json.dumps(op)} (known: {known})")
    checked = [_operand(arg, depth) for arg in args]
    operands = tuple(operand for operand, _ in checked)
    kinds = {kind for _, kind in checked}
    if op == "not" and len(operands) != 1:
        raise _malformed("'not' takes one operand", term)
    if op in _LOGICAL:
        if not operands:
            raise _malformed(f"{op!r} takes at least one operand", term)
        if kinds != {"boolean"}:
            raise _malformed(f"{op!r} takes expressions or true/false", term)
    else:
        if len(operands) < 2:
            raise _malformed(f"{op!r} takes at least two operands", term)
        if len(kinds) > 1:
            raise _malformed(f"{op!r} compares {' with '.join(sorted(kinds))}", term)
        if op in _ORDERINGS and kinds == {"boolean"}:
            raise _malformed(f"{op!r} orders numbers or strings", term)
    return Expression(op, operands), "boolean"


def _malformed(problem: str, term: list) -> QueryError:
    return QueryError(f"{problem}: {json.dumps(term)}")


def _operand(arg: object, depth: int) -> tuple[Expression | Variable | Value, Kind]:
    if isinstance(arg, list):
        return _expression(arg, depth + 1)
    if isinstance(arg, bool):
        return arg, "boolean"
    if isinstance(arg, int | float):
        return arg, "number"
    if isinstance(arg, str) and arg.startswith("$"):
        name = arg[1:]
        if name not in VARIABLES:
            known = ", ".join(f"${v}" for v in VARIABLES)
            raise QueryError(f"unknown variable {arg} (known: {known})")
        return Variable(name), VARIABLES[name].kind
    if isinstance(arg, str):
        return arg, "string"
    raise QueryError(f"{json.dumps(arg)} is not a number, string, true/false or expression")
