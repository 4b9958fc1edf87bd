"""cloud.instances.states: API status, every action's allow-list walked state by state,
and every step the conductor writes."""

import pytest

from cloud.instances.states import (
    KEEP,
    STEPS,
    TASK_STATES,
    TRANSITIONS,
    TaskState,
    VmState,
    allowed,
    api_status,
    refusal,
    transition,
    vm_states_for_status,
)
from cloud.power_state import PowerState

# Nova's vm_state -> status map (nova/api/openstack/common.py), defaults only.
EXPECTED_STATUS = {
    "building": "BUILD",
    "active": "ACTIVE",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "resized": "VERIFY_RESIZE",
    "error": "ERROR",
    "deleted": "DELETED",
    "soft-delete": "SOFT_DELETED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
}

ALL_VM_STATES = [value for name, value in vars(VmState).items() if name.isupper()]


def test_every_vm_state_has_an_expected_status():
    assert sorted(ALL_VM_STATES) == sorted(EXPECTED_STATUS)


# Nova's task_state refinements of the status (the rest show the vm_state's status).
EXPECTED_TASK_STATUS = {
    ("active", "rebooting"): "REBOOT",
    ("active", "rebooting_hard"): "HARD_REBOOT",
    **{
        (vm, task): "RESIZE"
        for vm in ("active", "stopped")
        for task in ("resize_prep", "resize_migrating", "resize_finish")
    },
    ("resized", "resize_reverting"): "REVERT_RESIZE",
    **{
        (vm, task): "REBUILD"
        for vm in ("active", "stopped", "error")
        for task in ("rebuilding", "rebuild_spawning")
    },
}


@pytest.mark.parametrize("vm_state", sorted(EXPECTED_STATUS))
@pytest.mark.parametrize("task_state", [None, *sorted(TASK_STATES)])
def test_api_status(vm_state, task_state):
    expected = EXPECTED_TASK_STATUS.get((vm_state, task_state), EXPECTED_STATUS[vm_state])
    assert api_status(vm_state, task_state) == expected


def test_a_hard_reboot_of_a_stopped_server_still_shows_shutoff():
    assert api_status("stopped", "rebooting_hard") == "SHUTOFF"


def test_unknown_vm_state_is_unknown():
    assert api_status("rescued-by-aliens", None) == "UNKNOWN"


@pytest.mark.parametrize("vm_state", sorted(EXPECTED_STATUS))
def test_status_filter_is_the_inverse(vm_state):
    status = EXPECTED_STATUS[vm_state]
    assert vm_states_for_status(status) == [vm_state]
    assert vm_states_for_status(status.lower()) == [vm_state]
    assert vm_states_for_status(status.title()) == [vm_state]


def test_status_filter_of_an_unknown_status_is_empty():
    assert vm_states_for_status("REBOOT") == []
    assert vm_states_for_status("") == []


@pytest.mark.parametrize(
    ("vm_state", "task_state"),
    [
        (VmState.BUILDING, TaskState.SCHEDULING),
        (VmState.BUILDING, TaskState.SPAWNING),
        (VmState.BUILDING, None),
        (VmState.ACTIVE, None),
        (VmState.ERROR, None),
        (VmState.STOPPED, None),
    ],
)
def test_delete_allowed(vm_state, task_state):
    assert allowed("delete", vm_state, task_state) is True


@pytest.mark.parametrize(
    "vm_state", [VmState.BUILDING, VmState.ACTIVE, VmState.ERROR, VmState.STOPPED]
)
def test_delete_refused_while_deleting(vm_state):
    assert allowed("delete", vm_state, TaskState.DELETING) is False


def test_delete_refused_from_an_unknown_task_state():
    assert allowed("delete", VmState.ACTIVE, "teleporting") is False


def test_delete_runs_as_deleting():
    assert TRANSITIONS["delete"].task_state == TaskState.DELETING == "deleting"


def test_unknown_action_is_a_programming_error():
    with pytest.raises(KeyError):
        allowed("teleport", VmState.ACTIVE, None)


# -- the whole table, walked ---------------------------------------------------
#
# Nova's allow-lists (nova/compute/api.py check_instance_state decorators,
# vm_states.ALLOW_*, task_states.ALLOW_REBOOT), written out independently of
# the module: (allowed vm_states or ALL, allowed task_states or ALL, task_state set,
# vm_state when done).

ALL = "all"
ALL_TASK_STATES = [None, *sorted(TASK_STATES)]
NOT_DELETING = {t for t in ALL_TASK_STATES if t != "deleting"}
IDLE = {None}
NOVA = {
    "delete": (ALL, NOT_DELETING, "deleting", None),
    "reboot": ({"active"}, IDLE, "rebooting", "active"),
    "reboot_hard": (
        {"active", "stopped", "paused", "suspended", "error"},
        {None, "rebooting", "rebooting_hard", "pausing", "unpausing", "suspending", "resuming"},
        "rebooting_hard",
        "active",
    ),
    "stop": ({"active", "error"}, IDLE, "powering-off", "stopped"),
    "start": ({"stopped"}, IDLE, "powering-on", "active"),
    "pause": ({"active"}, IDLE, "pausing", "paused"),
    "unpause": ({"paused"}, IDLE, "unpausing", "active"),
    "suspend": ({"active"}, IDLE, "suspending", "suspended"),
    "resume": ({"suspended"}, IDLE, "resuming", "active"),
    "resize": ({"active", "stopped"}, IDLE, "resize_prep", "resized"),
    "confirm_resize": ({"resized"}, IDLE, None, None),
    "revert_resize": ({"resized"}, IDLE, "resize_reverting", None),
    "rebuild": ({"active", "stopped", "error"}, IDLE, "rebuilding", "active"),
    "evacuate": ({"active", "stopped", "error"}, IDLE, "rebuilding", "active"),
    "create_image": ({"active", "stopped", "paused", "suspended"}, IDLE, "image_snapshot", None),
    "reset_state": (ALL, ALL, None, None),
    "update_metadata": ({"active", "paused", "suspended", "stopped"}, IDLE, None, None),
    "get_console_output": (
        {"active", "paused", "stopped", "suspended", "resized", "error"},
        NOT_DELETING,
        None,
        None,
    ),
    "get_remote_console": (
        {"active", "paused", "stopped", "suspended", "resized", "error"},
        NOT_DELETING
        - {
            "resize_migrating",
            "resize_finish",
            "resize_reverting",
            "rebuilding",
            "rebuild_spawning",
        },
        None,
        None,
    ),
}


def test_the_table_has_exactly_the_expected_actions():
    assert set(TRANSITIONS) == set(NOVA)


def test_task_states_are_novas_names():
    assert set(TASK_STATES) == {
        "scheduling",
        "spawning",
        "deleting",
        "rebooting",
        "rebooting_hard",
        "powering-off",
        "powering-on",
        "pausing",
        "unpausing",
        "suspending",
        "resuming",
        "resize_prep",
        "resize_migrating",
        "resize_finish",
        "resize_reverting",
        "rebuilding",
        "rebuild_spawning",
        "image_snapshot",
        "image_pending_upload",
        "image_uploading",
    }


@pytest.mark.parametrize("action", sorted(NOVA))
def test_walk_every_state_pair(action):
    vm_states, task_states, _, _ = NOVA[action]
    for vm_state in ALL_VM_STATES:
        for task_state in ALL_TASK_STATES:
            expected = (vm_states == ALL or vm_state in vm_states) and (
                task_states == ALL or task_state in task_states
            )
            assert allowed(action, vm_state, task_state) is expected, (vm_state, task_state)


@pytest.mark.parametrize("action", sorted(NOVA))
def test_task_state_set_and_vm_state_left(action):
    _, _, task_state, done = NOVA[action]
    assert TRANSITIONS[action].task_state == task_state
    assert TRANSITIONS[action].done == done


def test_only_console_reads_and_metadata_changes_are_read_only():
    """They write no state: consoles ask the host, metadata is a column beside."""
    read_only = {a for a, rule in TRANSITIONS.items() if rule.read_only}
    assert read_only == {"get_console_output", "get_remote_console", "update_metadata"}


def test_a_running_action_blocks_every_other_but_delete_and_hard_reboot():
    for action in ("reboot", "stop", "start", "pause", "unpause", "suspend", "resume"):
        running = TRANSITIONS[action].task_state
        takers = {a for a in NOVA if allowed(a, "active", running)}
        assert takers <= {
            "delete",
            "reboot_hard",
            "reset_state",
            "get_console_output",
            "get_remote_console",
        }, action


def test_refusal_names_the_vm_state_in_the_way():
    assert refusal("pause", "pause", "u-1", "stopped", None) == (
        "Cannot 'pause' instance u-1 while it is in vm_state stopped"
    )


def test_refusal_names_the_task_state_in_the_way():
    assert refusal("reboot", "reboot", "u-1", "active", "pausing") == (
        "Cannot 'reboot' instance u-1 while it is in task_state pausing"
    )


@pytest.mark.parametrize("vm_state", ["active", "stopped", "error"])
@pytest.mark.parametrize("task_state", ["rebuilding", "rebuild_spawning"])
def test_a_rebuild_shows_rebuild(vm_state, task_state):
    assert api_status(vm_state, task_state) == "REBUILD"


def test_a_snapshot_keeps_the_status_and_runs_through_its_steps():
    assert api_status("active", "image_uploading") == "ACTIVE"
    assert TRANSITIONS["create_image"].running == {
        "image_snapshot",
        "image_pending_upload",
        "image_uploading",
    }


def test_a_resize_runs_through_its_steps_and_waits_resized():
    assert TRANSITIONS["resize"].running == {"resize_prep", "resize_migrating", "resize_finish"}
    assert api_status("resized", None) == "VERIFY_RESIZE"


@pytest.mark.parametrize("action", ["confirm_resize", "revert_resize"])
@pytest.mark.parametrize("task_state", ["resize_prep", "resize_migrating", "resize_finish"])
def test_a_resize_under_way_can_be_neither_confirmed_nor_reverted(action, task_state):
    for vm_state in ("active", "stopped", "resized"):
        assert allowed(action, vm_state, task_state) is False


def test_a_reverting_resize_blocks_confirm_and_another_resize():
    assert allowed("confirm_resize", "resized", "resize_reverting") is False
    assert allowed("resize", "resized", None) is False
    assert allowed("delete", "resized", "resize_reverting") is True


# -- the conductor's steps, written out independently of the module -------------------
#
# (vm_states it may start from or ALL, task_states or ALL, task_state written,
# vm_state written: one, a set the writer chooses from, or KEPT).

KEPT = "kept"
RUNNING_OR_STOPPED = {"active", "stopped"}
BUILDING = {"building"}
NOT_BUILDING = set(ALL_VM_STATES) - BUILDING
KEEPS_VM_STATE = {
    "powering-off",
    "powering-on",
    "pausing",
    "unpausing",
    "suspending",
    "resuming",
    "image_snapshot",
    "image_pending_upload",
    "image_uploading",
}
HOST_ACTION_OUTCOMES = {
    f"{action}:{outcome}": (ALL, {running}, None, left)
    for action, running, done, failed in [
        ("reboot", "rebooting", "active", {KEPT, "error"}),
        ("reboot_hard", "rebooting_hard", "active", {KEPT, "error"}),
        ("stop", "powering-off", "stopped", KEPT),
        ("start", "powering-on", "active", KEPT),
        ("pause", "pausing", "paused", KEPT),
        ("unpause", "unpausing", "active", KEPT),
        ("suspend", "suspending", "suspended", KEPT),
        ("resume", "resuming", "active", KEPT),
    ]
    for outcome, left in (("done", done), ("failed", failed))
}
REBUILDS = {
    f"{action}:{name}": rule
    for action in ("rebuild", "evacuate")
    for name, rule in {
        "rebuild_spawning": (ALL, {"rebuilding"}, "rebuild_spawning", KEPT),
        "done": (ALL, {"rebuilding", "rebuild_spawning"}, None, RUNNING_OR_STOPPED),
        "failed": (ALL, {"rebuilding", "rebuild_spawning"}, None, "error"),
    }.items()
}
SNAPSHOT_TASKS = {"image_snapshot", "image_pending_upload", "image_uploading"}
EXPECTED_STEPS = {
    "create": (set(), set(), "scheduling", "building"),
    "spawn": (BUILDING, {"scheduling", "spawning"}, "spawning", KEPT),
    "spawned": (BUILDING, {"spawning"}, None, "active"),
    "spawned_while_deleting": (BUILDING, {"deleting"}, KEPT, "active"),
    "reschedule": (BUILDING, {"spawning"}, "scheduling", KEPT),
    "build_failed": (BUILDING, {"scheduling", "spawning"}, None, "error"),
    "build_timed_out": (BUILDING, ALL, None, "error"),
    "mark_deleted": (ALL, ALL, None, "deleted"),
    **HOST_ACTION_OUTCOMES,
    "resize:resize_migrating": (ALL, {"resize_prep"}, "resize_migrating", KEPT),
    "resize:resize_finish": (ALL, {"resize_prep", "resize_migrating"}, "resize_finish", KEPT),
    "resize:done": (ALL, {"resize_finish"}, None, "resized"),
    "resize:failed": (
        ALL,
        {"resize_prep", "resize_migrating", "resize_finish"},
        None,
        {"active", "stopped", "error"},
    ),
    "revert_resize:done": ({"resized"}, {"resize_reverting"}, None, RUNNING_OR_STOPPED),
    "revert_resize:failed": (ALL, {"resize_reverting"}, None, "error"),
    "confirm_resize:done": ({"resized"}, ALL, KEPT, RUNNING_OR_STOPPED),
    "confirm_resize:failed": (ALL, IDLE, None, "error"),
    **REBUILDS,
    "evacuate:no_host": (ALL, {"rebuilding"}, None, "error"),
    "create_image:image_pending_upload": (ALL, {"image_snapshot"}, "image_pending_upload", KEPT),
    "create_image:image_uploading": (
        ALL,
        {"image_snapshot", "image_pending_upload"},
        "image_uploading",
        KEPT,
    ),
    "create_image:done": (ALL, SNAPSHOT_TASKS, None, KEPT),
    "create_image:failed": (ALL, SNAPSHOT_TASKS, None, KEPT),
    "power_sync": (ALL, IDLE, KEPT, KEPT),
    "stopped_by_itself": ({"active", "paused"}, IDLE, KEPT, "stopped"),
    "task_expired": (NOT_BUILDING, KEEPS_VM_STATE, None, KEPT),
    "task_expired_error": (NOT_BUILDING, set(TASK_STATES) - KEEPS_VM_STATE, None, "error"),
}


def _written(value):
    """A table entry's written state in the notation above."""
    if value is KEEP:
        return KEPT
    if isinstance(value, frozenset):
        return {KEPT if v is KEEP else v for v in value}
    return value


def test_the_steps_are_exactly_the_expected_ones():
    assert set(STEPS) == set(EXPECTED_STEPS)
    assert not set(STEPS) & set(TRANSITIONS)


@pytest.mark.parametrize("step", sorted(EXPECTED_STEPS))
def test_each_step_starts_from_and_writes_the_expected_states(step):
    vm_states, task_states, task_state, vm_state = EXPECTED_STEPS[step]
    rule = transition(step)
    assert (ALL if rule.vm_states is None else set(rule.vm_states)) == vm_states
    assert (ALL if rule.task_states is None else set(rule.task_states)) == task_states
    assert _written(rule.task_state) == task_state
    assert _written(rule.vm_state) == vm_state


def test_only_a_delete_writes_a_power_state_of_its_own():
    assert {s: r.power_state for s, r in STEPS.items() if r.power_state is not None} == {
        "mark_deleted": PowerState.NOSTATE
    }


def test_every_deadline_ends_one_way():
    keeps, errs = STEPS["task_expired"].task_states, STEPS["task_expired_error"].task_states
    assert not keeps & errs and keeps | errs == TASK_STATES


def test_an_outcome_never_lands_on_another_action():
    """A host action's outcome starts only from its own task_states, so it never
    overwrites a delete (or a hard reboot) that took over."""
    for action in ("reboot", "stop", "start", "pause", "unpause", "suspend", "resume"):
        for outcome in ("done", "failed"):
            task_states = STEPS[f"{action}:{outcome}"].task_states
            assert "deleting" not in task_states and "rebooting_hard" not in task_states


def test_the_admin_chooses_between_active_and_error():
    assert _written(TRANSITIONS["reset_state"].vm_state) == {"active", "error"}
