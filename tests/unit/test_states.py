"""cloud.instances.states: API status, and every action's allow-list walked state by state."""

import pytest

from cloud.instances.states import (
    TASK_STATES,
    TRANSITIONS,
    TaskState,
    VmState,
    allowed,
    api_status,
    refusal,
    vm_states_for_status,
)

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
    "get_console_output": (
        {"active", "paused", "stopped", "suspended", "resized", "error"},
        NOT_DELETING,
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


def test_only_console_output_is_read_only():
    assert {a for a, rule in TRANSITIONS.items() if rule.read_only} == {"get_console_output"}


def test_a_running_action_blocks_every_other_but_delete_and_hard_reboot():
    for action in ("reboot", "stop", "start", "pause", "unpause", "suspend", "resume"):
        running = TRANSITIONS[action].task_state
        takers = {a for a in NOVA if allowed(a, "active", running)}
        assert takers <= {"delete", "reboot_hard", "reset_state", "get_console_output"}, action


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
