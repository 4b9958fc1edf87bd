"""The instance state machine: vm_state, task_state, power_state, and the API status.

This module is the one table of which action may start from which states and
what task_state it sets while it runs. `cloud.instances.services` applies a
transition with a conditional UPDATE on the expected states; zero rows
updated means somebody else changed the instance first (409).
"""

from dataclasses import dataclass


class VmState:
    BUILDING = "building"
    ACTIVE = "active"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    RESIZED = "resized"
    ERROR = "error"
    DELETED = "deleted"
    SOFT_DELETED = "soft-delete"
    SHELVED_OFFLOADED = "shelved_offloaded"


class TaskState:
    SCHEDULING = "scheduling"
    SPAWNING = "spawning"
    DELETING = "deleting"


class PowerState:
    """libvirt-derived power states, with Nova's numbering (the API shows ints)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


ANY = None  # wildcard in the table below


@dataclass(frozen=True)
class Transition:
    """An action allowed from `vm_states` x `task_states`, running as `task_state`."""

    vm_states: frozenset[str] | None
    task_states: frozenset[str | None] | None
    task_state: str | None


TRANSITIONS: dict[str, Transition] = {
    # A server may be deleted in any state, even mid-build, except while a
    # delete is already under way.
    "delete": Transition(
        vm_states=ANY,
        task_states=frozenset({None, TaskState.SCHEDULING, TaskState.SPAWNING}),
        task_state=TaskState.DELETING,
    ),
}


def allowed(action: str, vm_state: str, task_state: str | None) -> bool:
    rule = TRANSITIONS[action]
    return (rule.vm_states is ANY or vm_state in rule.vm_states) and (
        rule.task_states is ANY or task_state in rule.task_states
    )


# vm_state -> API status, refined by task_state below (Nova's status map).
_STATUS = {
    VmState.BUILDING: "BUILD",
    VmState.ACTIVE: "ACTIVE",
    VmState.STOPPED: "SHUTOFF",
    VmState.PAUSED: "PAUSED",
    VmState.SUSPENDED: "SUSPENDED",
    VmState.RESIZED: "VERIFY_RESIZE",
    VmState.ERROR: "ERROR",
    VmState.DELETED: "DELETED",
    VmState.SOFT_DELETED: "SOFT_DELETED",
    VmState.SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
}


def api_status(vm_state: str, task_state: str | None) -> str:
    """The API status; while deleting, Nova keeps showing the vm_state's status."""
    return _STATUS.get(vm_state, "UNKNOWN")


def vm_states_for_status(status: str) -> list[str]:
    """Inverse of api_status, for `GET /servers?status=...` filters."""
    status = status.upper()
    return [vm for vm, name in _STATUS.items() if name == status]
