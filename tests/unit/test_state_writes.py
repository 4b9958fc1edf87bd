"""One state machine for every write: outside `cloud.instances.lifecycle`, no module under
cloud/ writes an instance's vm_state, task_state or power_state.

Each module is parsed (never imported) and searched for the ways Django code writes
columns: keyword arguments of `.update(...)`, `.create(...)` and the like (or of a
model constructed directly), `update_fields` / `bulk_update` field lists, attribute
assignments (`instance.vm_state = ...`, `setattr`), and dicts built with those keys
(the `values` a write is then given as `**values`). Reads (`.filter(vm_state=...)`,
`values_list("vm_state")`, the admin's list columns) are not writes. Migrations and the
compute side (no database) are left out. The checker itself is tested on the patterns
it must catch and the reads it must let through.
"""

import ast
from pathlib import Path

import pytest

CLOUD = Path(__file__).resolve().parents[2] / "cloud"
SERVICE = CLOUD / "instances" / "lifecycle.py"
# The compute side has no database (tests/unit/test_compute_imports.py).
COMPUTE_SIDE = (
    CLOUD / "workers",
    CLOUD / "payloads.py",
    CLOUD / "messaging.py",
    CLOUD / "power_state.py",
)

FIELDS = frozenset({"vm_state", "task_state", "power_state"})
WRITE_METHODS = frozenset(
    {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}
)
MODELS = frozenset({"Instance"})


def _named(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _field_names(node: ast.AST | None) -> set[str]:
    """Field names in a literal list, tuple or set (update_fields, bulk_update fields)."""
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        return set()
    return {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in FIELDS}


def _key(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and node.value in FIELDS:
        return node.value
    return None


def _call_writes(call: ast.Call) -> set[str]:
    name = _named(call.func)
    kwargs = {k.arg for k in call.keywords if k.arg in FIELDS}
    found = set()
    # A model's write method, the model constructed, or the model handed to a helper
    # that writes its columns (`_set(Instance, pk, vm_state=...)`).
    handed = any(isinstance(a, ast.Name) and a.id in MODELS for a in call.args)
    if (isinstance(call.func, ast.Attribute) and name in WRITE_METHODS) or name in MODELS:
        found |= kwargs
    if handed:
        found |= kwargs
    if name == "dict":
        found |= kwargs
    if name == "bulk_update":
        found |= _field_names(call.args[1] if len(call.args) > 1 else None)
    if name == "setattr" and len(call.args) > 1 and _key(call.args[1]):
        found.add(call.args[1].value)
    for keyword in call.keywords:
        if keyword.arg in ("update_fields", "fields"):
            found |= _field_names(keyword.value)
    return found


def state_writes(source: str) -> list[tuple[int, str]]:
    """(line, field) of every write of an instance state in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        fields: set[str] = set()
        if isinstance(node, ast.Call):
            fields = _call_writes(node)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in FIELDS:
                    fields.add(target.attr)
                if isinstance(target, ast.Subscript) and _key(target.slice):
                    fields.add(target.slice.value)
        elif isinstance(node, ast.Dict):
            fields = {k for k in map(_key, node.keys) if k}
        found += [(node.lineno, field) for field in sorted(fields)]
    return found


def _checked_modules() -> list[Path]:
    return [
        path
        for path in sorted(CLOUD.rglob("*.py"))
        if path != SERVICE
        and "migrations" not in path.parts
        and not any(path == p or p in path.parents for p in COMPUTE_SIDE)
    ]


def test_no_module_but_the_lifecycle_service_writes_instance_states():
    offenders = [
        f"{path.relative_to(CLOUD.parent)}:{line}: writes {field}"
        for path in _checked_modules()
        for line, field in state_writes(path.read_text())
    ]
    assert not offenders, "write it through cloud.instances.lifecycle:\n" + "\n".join(offenders)


def test_the_check_covers_the_apps_and_leaves_out_only_the_service_and_the_compute_side():
    checked = {p.relative_to(CLOUD).as_posix() for p in _checked_modules()}
    assert {
        "conductor/services.py",
        "conductor/resize.py",
        "instances/services.py",
        "instances/states.py",
        "instances/admin.py",
    } <= checked
    assert not {"instances/lifecycle.py", "workers/manager.py", "payloads.py"} & checked
    assert "instances/api/migrations.py" in checked  # the os-migrations API, no migration
    assert not any(c.startswith("instances/migrations/") for c in checked)


# -- the checker, on the patterns it must catch (today's code had each) -------------


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        (
            "Instance.objects.filter(pk=pk).update(vm_state=VmState.ERROR, task_state=None)",
            ["task_state", "vm_state"],
        ),
        ("qs.update(host=h, task_state=TaskState.SPAWNING)", ["task_state"]),
        ("Instance.objects.create(display_name=n, vm_state=v)", ["vm_state"]),
        (
            "Instance.objects.update_or_create(uuid=u, defaults=dict(power_state=4))",
            ["power_state"],
        ),
        ("Instance(display_name=n, task_state=t).save()", ["task_state"]),
        ("instance.vm_state = VmState.STOPPED", ["vm_state"]),
        ("self.instance.power_state += 0", ["power_state"]),
        ("instance.save(update_fields=['task_state', 'updated_at'])", ["task_state"]),
        ("Instance.objects.bulk_update(rows, ['vm_state'])", ["vm_state"]),
        ("setattr(instance, 'vm_state', v)", ["vm_state"]),
        (
            "updates = {'vm_state': VmState.ACTIVE, 'progress': 100}\n"
            "Instance.objects.filter(pk=pk).update(**updates)",
            ["vm_state"],
        ),
        ("values['vm_state'] = VmState.STOPPED", ["vm_state"]),
        (
            "_set(Instance, pk, vm_state=v)\n"
            "def _set(model, pk, **values):\n"
            "    model.objects.filter(pk=pk).update(**values)",
            ["vm_state"],
        ),
    ],
)
def test_the_checker_finds_writes(source, fields):
    assert [field for _, field in state_writes(source)] == fields


def test_the_checker_finds_a_write_in_a_module_as_it_was():
    """cloud/conductor/deadlines.py's reaper before it went through the service."""
    old = (
        "def _task_expire(uuid, task_state, seconds, cutoff):\n"
        "    instance = (\n"
        "        Instance.objects.select_for_update()\n"
        "        .filter(uuid=uuid, deleted=False, task_state=task_state)\n"
        "        .exclude(vm_state=VmState.BUILDING)\n"
        "        .first()\n"
        "    )\n"
        "    vm_state = instance.vm_state if keeps else VmState.ERROR\n"
        "    Instance.objects.filter(pk=instance.pk).update(\n"
        "        vm_state=vm_state, task_state=None, updated_at=timezone.now()\n"
        "    )\n"
    )
    assert state_writes(old) == [(9, "task_state"), (9, "vm_state")]


@pytest.mark.parametrize(
    "source",
    [
        "Instance.objects.filter(vm_state=VmState.BUILDING, task_state__isnull=True)",
        "qs.exclude(vm_state=VmState.BUILDING).values_list('uuid', 'vm_state', 'power_state')",
        "Instance.objects.get(uuid=u, task_state=t)",
        "readonly_fields = ('vm_state', 'task_state', 'power_state')",
        "list_filter = ['vm_state', 'task_state']",
        "stopped = instance.vm_state == VmState.STOPPED",
        "RebuildRequest(task_state=TaskState.REBUILDING, stopped=stopped)",
        "Migration.objects.create(old_vm_state=instance.vm_state)",
        "server_reset_state(instance=instance, vm_state=vm_state)",
        "instance_transition(instance=i, step='spawned', power_state=result.power_state)",
    ],
)
def test_the_checker_lets_reads_through(source):
    assert state_writes(source) == []


@pytest.mark.parametrize("field", ["vm_state", "task_state", "power_state"])
def test_instance_update_refuses_the_states(field):
    from cloud.instances.models import Instance
    from cloud.instances.services import instance_update

    instance = Instance(host="cmp-1")
    with pytest.raises(ValueError, match="cloud.instances.lifecycle"):
        instance_update(instance=instance, host="cmp-2", **{field: "active"})
    assert instance.host == "cmp-1"
