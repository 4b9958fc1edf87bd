"""The `query` hint's language (cloud.scheduler.query) and JsonFilter, on hosts built in
memory: what each operator and variable means, and each malformed query's message."""

import json

import pytest

from cloud.scheduler.filters.json_filter import JsonFilter
from cloud.scheduler.query import MAX_DEPTH, MAX_LENGTH, VARIABLES, QueryError, parse
from cloud.scheduler.request import HostState, Scheduling, SchedulingRequest


def host(
    name: str = "hv-1",
    *,
    free: dict[str, int] | None = None,
    capacity: dict[str, int] | None = None,
    hypervisor_type: str = "QEMU",
    failed_builds: int = 0,
) -> HostState:
    capacity = capacity or {"VCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 100}
    return HostState(
        provider_id=1,
        name=name,
        free=capacity if free is None else free,
        capacity=capacity,
        zone="nova",
        hypervisor_type=hypervisor_type,
        architecture="x86_64",
        failed_builds=failed_builds,
    )


BUSY = host(
    "busy",
    free={"VCPU": 2, "MEMORY_MB": 512, "DISK_GB": 10},
    capacity={"VCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 100},
    failed_builds=3,
)


def nested(levels: int) -> list:
    """["not", ["not", ... ["=", "$host", "busy"]]], `levels` expressions deep."""
    query: list = ["=", "$host", "busy"]
    for _ in range(levels - 1):
        query = ["not", query]
    return query


def matches(query: object, state: HostState = BUSY) -> bool:
    parsed = parse(query)
    assert parsed is not None
    return parsed.matches(state)


def test_variables_read_the_host_in_novas_units():
    values = {name: variable.read(BUSY) for name, variable in VARIABLES.items()}
    assert values == {
        "host": "busy",
        "hypervisor_type": "QEMU",
        "free_ram_mb": 512,
        "total_usable_ram_mb": 4096,
        "free_disk_mb": 10 * 1024,
        "disk_mb_used": 90 * 1024,
        "total_usable_disk_gb": 100,
        "vcpus_total": 8,
        "vcpus_used": 6,
        "failed_builds": 3,
    }
    assert VARIABLES["free_ram_mb"].read(host(capacity={"VCPU": 1})) == 0  # no such inventory


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (["=", "$host", "busy"], True),
        (["=", "$free_ram_mb", 512, 512.0], True),  # the first against each of the others
        (["=", "$free_ram_mb", 512, 1024], False),
        (["<", "$free_ram_mb", 1024, 600], True),
        (["<", "$free_ram_mb", 1024, 512], False),
        ([">", "$vcpus_total", "$vcpus_used"], True),
        (["<=", "$free_disk_mb", 10240], True),
        ([">=", "$free_disk_mb", 10241], False),
        ([">=", "$hypervisor_type", "KVM"], True),  # strings order too
        (["in", "$hypervisor_type", "KVM", "QEMU"], True),
        (["in", "$hypervisor_type", "KVM", "XEN"], False),
        (["not", ["=", "$host", "other"]], True),
        (["not", True], False),
        (["and", [">=", "$free_ram_mb", 512], ["<", "$failed_builds", 5]], True),
        (["and", [">=", "$free_ram_mb", 512], ["<", "$failed_builds", 3]], False),
        (["or", [">=", "$free_ram_mb", 1024], ["=", "$host", "busy"]], True),
        (["or", [">=", "$free_ram_mb", 1024], False], False),
        (["=", [">", "$vcpus_total", 4], True], True),  # expressions compare as booleans
        (["and", ["not", ["in", "$host", "a", "b"]], ["or", True]], True),
    ],
)
def test_operators(query, expected):
    assert matches(query) is expected
    assert matches(json.dumps(query)) is expected  # as Nova takes it: a JSON string


def test_a_query_keeps_its_text_and_an_empty_one_is_none():
    text = '[">=",  "$free_ram_mb", 1024]'
    assert parse(text).text == '[">=", "$free_ram_mb", 1024]'
    assert parse([">=", "$free_ram_mb", 1024]).text == '[">=", "$free_ram_mb", 1024]'
    for empty in ("", [], "[]"):
        assert parse(empty) is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x", "not valid JSON (Expecting value"),
        ('[">=", "$free_ram_mb", NaN]', "not valid JSON (NaN is not a JSON number"),
        ({"op": "="}, "must be a JSON string or list"),
        (7, "must be a JSON string or list"),
        (None, "must be a JSON string or list"),
        ('{"op": "="}', '{"op": "="} is not an expression [operator, operand, ...]'),
        ('"$host"', '"$host" is not an expression'),
        (["and", []], "[] is not an expression"),
        (["==", "$host", "a"], 'unknown operator "==" (known: =, in, <, >, <=, >=, and, or, not)'),
        ([["=", "$host", "a"]], "unknown operator"),
        (["=", "$free_ram", 1], "unknown variable $free_ram (known: $host, $hypervisor_type,"),
        (["=", "$stats.io", 1], "unknown variable $stats.io"),
        (["=", "$host"], '\'=\' takes at least two operands: ["=", "$host"]'),
        (["in", "$host"], "'in' takes at least two operands"),
        ([">="], "'>=' takes at least two operands"),
        (["not", True, False], "'not' takes one operand"),
        (["not"], "'not' takes one operand"),
        (["and"], "'and' takes at least one operand"),
        (["or", ">=", "$free_ram_mb", 1024], "'or' takes expressions or true/false"),
        (["and", "$free_ram_mb"], "'and' takes expressions or true/false"),
        ([">=", "$free_ram_mb", "1024"], "'>=' compares number with string"),
        (["=", "$host", 1], "'=' compares number with string"),
        (["in", "$host", "a", True], "'in' compares boolean with string"),
        (["<", True, False], "'<' orders numbers or strings"),
        (["=", "$host", None], "null is not a number, string, true/false or expression"),
        (["=", "$host", {"a": 1}], '{"a": 1} is not a number, string'),
        (nested(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
        ("[" * 4000 + "]" * 4000, f"nested deeper than {MAX_DEPTH} levels"),
        (["in", "$host", *["h"] * MAX_LENGTH], f"longer than {MAX_LENGTH} characters"),
    ],
)
def test_malformed_queries_are_named(query, message):
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert message in str(raised.value)


def test_nesting_up_to_the_limit_is_fine():
    negations = MAX_DEPTH - 1
    assert matches(nested(MAX_DEPTH)) is (negations % 2 == 0)


def scheduling(query: str) -> Scheduling:
    return Scheduling(
        SchedulingRequest(instance_uuid="i-1", project_id="p", resources={}, query=query)
    )


def test_json_filter_applies_only_with_a_query():
    json_filter = JsonFilter()
    assert not json_filter.applies(scheduling(""))
    assert not json_filter.applies(scheduling("[]"))
    ctx = scheduling('[">=", "$free_ram_mb", 1024]')
    assert json_filter.applies(ctx) and json_filter.judges_hosts and not json_filter.narrows
    assert json_filter.host_passes(host(), ctx)
    assert not json_filter.host_passes(BUSY, ctx)
    assert json_filter.describe(ctx) == 'did not match the query hint [">=", "$free_ram_mb", 1024]'


def test_a_query_this_scheduler_cannot_read_matches_no_host():
    # e.g. written by a newer API that knows a variable this scheduler does not.
    ctx = scheduling('["=", "$numa_topology", "x"]')
    json_filter = JsonFilter()
    assert json_filter.applies(ctx)
    assert not json_filter.host_passes(host(), ctx)
    assert json_filter.describe(ctx).startswith(
        'could not be judged by the query hint ["=", "$numa_topology", "x"] '
        "(unknown variable $numa_topology"
    )
