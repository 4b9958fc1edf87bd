"""cloud.instances.states: API status per vm_state and the delete transition."""

import pytest

from cloud.instances.states import (
    TRANSITIONS,
    TaskState,
    VmState,
    allowed,
    api_status,
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


@pytest.mark.parametrize("vm_state", sorted(EXPECTED_STATUS))
@pytest.mark.parametrize("task_state", [None, "scheduling", "spawning", "deleting"])
def test_api_status(vm_state, task_state):
    assert api_status(vm_state, task_state) == EXPECTED_STATUS[vm_state]


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
    assert allowed("delete", VmState.ACTIVE, "rebooting") is False


def test_delete_runs_as_deleting():
    assert TRANSITIONS["delete"].task_state == TaskState.DELETING == "deleting"


def test_unknown_action_is_a_programming_error():
    with pytest.raises(KeyError):
        allowed("teleport", VmState.ACTIVE, None)
