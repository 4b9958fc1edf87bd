"""The instance state machine: vm_state, task_state, power_state, and the API status.

This module is the one table of which action may start from which states,
what task_state it sets while it runs, and which vm_state it leaves behind
when the host reports success (Nova's `check_instance_state` allow-lists and
`instance.save(expected_task_state=...)`). `cloud.instances.lifecycle`
applies a transition with a conditional UPDATE on the expected states; zero
rows updated means somebody else changed the instance first (409).
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
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"


class PowerState:
    """libvirt-derived power states, with Nova's numbering (the API shows ints)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


ANY = None  # wildcard in the table below

TASK_STATES: frozenset[str] = frozenset(
    value for name, value in vars(TaskState).items() if name.isupper()
)


@dataclass(frozen=True)
class Transition:
    """An action allowed from `vm_states` x `task_states`, running as `task_state`.

    `done` is the vm_state the action leaves when the host reports success
    (None: the action keeps the vm_state, or it does not go to a host).
    `read_only` actions are only checked: they write no state at all.
    """

    vm_states: frozenset[str] | None
    task_states: frozenset[str | None] | None
    task_state: str | None
    done: str | None = None
    read_only: bool = False


# Nova's task_states.ALLOW_REBOOT: a hard reboot may take over from these.
ALLOW_REBOOT: frozenset[str | None] = frozenset(
    {
        None,
        TaskState.REBOOTING,
        TaskState.REBOOTING_HARD,
        TaskState.PAUSING,
        TaskState.UNPAUSING,
        TaskState.SUSPENDING,
        TaskState.RESUMING,
    }
)
IDLE: frozenset[str | None] = frozenset({None})

TRANSITIONS: dict[str, Transition] = {
    # A server may be deleted in any state, even mid-build or mid-reboot,
    # except while a delete is already under way.
    "delete": Transition(
        vm_states=ANY,
        task_states=frozenset({None, *TASK_STATES}) - {TaskState.DELETING},
        task_state=TaskState.DELETING,
    ),
    "reboot": Transition(
        vm_states=frozenset({VmState.ACTIVE}),
        task_states=IDLE,
        task_state=TaskState.REBOOTING,
        done=VmState.ACTIVE,
    ),
    "reboot_hard": Transition(
        vm_states=frozenset(
            {VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR}
        ),
        task_states=ALLOW_REBOOT,
        task_state=TaskState.REBOOTING_HARD,
        done=VmState.ACTIVE,
    ),
    "stop": Transition(
        vm_states=frozenset({VmState.ACTIVE, VmState.ERROR}),
        task_states=IDLE,
        task_state=TaskState.POWERING_OFF,
        done=VmState.STOPPED,
    ),
    "start": Transition(
        vm_states=frozenset({VmState.STOPPED}),
        task_states=IDLE,
        task_state=TaskState.POWERING_ON,
        done=VmState.ACTIVE,
    ),
    "pause": Transition(
        vm_states=frozenset({VmState.ACTIVE}),
        task_states=IDLE,
        task_state=TaskState.PAUSING,
        done=VmState.PAUSED,
    ),
    "unpause": Transition(
        vm_states=frozenset({VmState.PAUSED}),
        task_states=IDLE,
        task_state=TaskState.UNPAUSING,
        done=VmState.ACTIVE,
    ),
    "suspend": Transition(
        vm_states=frozenset({VmState.ACTIVE}),
        task_states=IDLE,
        task_state=TaskState.SUSPENDING,
        done=VmState.SUSPENDED,
    ),
    "resume": Transition(
        vm_states=frozenset({VmState.SUSPENDED}),
        task_states=IDLE,
        task_state=TaskState.RESUMING,
        done=VmState.ACTIVE,
    ),
    # An admin's way out of a stuck or wrong state: any state, task cleared
    # (the vm_state, active or error, is the admin's choice).
    "reset_state": Transition(vm_states=ANY, task_states=ANY, task_state=None),
    # Asks the host, changes nothing; not while the guest is going away.
    "get_console_output": Transition(
        vm_states=frozenset(
            {
                VmState.ACTIVE,
                VmState.PAUSED,
                VmState.STOPPED,
                VmState.SUSPENDED,
                VmState.RESIZED,
                VmState.ERROR,
            }
        ),
        task_states=frozenset({None, *TASK_STATES}) - {TaskState.DELETING},
        task_state=None,
        read_only=True,
    ),
}

RESET_STATES = frozenset({VmState.ACTIVE, VmState.ERROR})


def allowed(action: str, vm_state: str, task_state: str | None) -> bool:
    rule = TRANSITIONS[action]
    return (rule.vm_states is ANY or vm_state in rule.vm_states) and (
        rule.task_states is ANY or task_state in rule.task_states
    )


def refusal(action: str, method: str, uuid: str, vm_state: str, task_state: str | None) -> str:
    """Nova's InstanceInvalidState message, naming the state that is in the way."""
    rule = TRANSITIONS[action]
    if rule.vm_states is not ANY and vm_state not in rule.vm_states:
        return f"Cannot '{method}' instance {uuid} while it is in vm_state {vm_state}"
    return f"Cannot '{method}' instance {uuid} while it is in task_state {task_state}"


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
_TASK_STATUS = {
    (VmState.ACTIVE, TaskState.REBOOTING): "REBOOT",
    (VmState.ACTIVE, TaskState.REBOOTING_HARD): "HARD_REBOOT",
}


def api_status(vm_state: str, task_state: str | None) -> str:
    """The API status; while deleting (or pausing, ...), Nova keeps showing the vm_state's."""
    return _TASK_STATUS.get((vm_state, task_state)) or _STATUS.get(vm_state, "UNKNOWN")


def vm_states_for_status(status: str) -> list[str]:
    """Inverse of api_status, for `GET /servers?status=...` filters."""
    status = status.upper()
    return [vm for vm, name in _STATUS.items() if name == status]
