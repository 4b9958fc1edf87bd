"""The instance state machine: vm_state, task_state, power_state, and the API status.

This module is the one table of which action may start from which states,
what task_state it sets while it runs, and which vm_state it leaves behind
when the host reports success (Nova's `check_instance_state` allow-lists and
`instance.save(expected_task_state=...)`). `cloud.instances.lifecycle`
applies a transition with a conditional UPDATE on the expected states; zero
rows updated means somebody else changed the instance first (409).
"""

from dataclasses import dataclass

from cloud.power_state import PowerState


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
    # Resize (Nova's names): scheduling, the source stopping the guest, the
    # destination starting it with the new flavor, and a revert under way.
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_FINISH = "resize_finish"
    RESIZE_REVERTING = "resize_reverting"
    # Rebuild and evacuate (the old guest destroyed, then the new one spawning),
    # and a snapshot (the disk copied, then the image written).
    REBUILDING = "rebuilding"
    REBUILD_SPAWNING = "rebuild_spawning"
    IMAGE_SNAPSHOT = "image_snapshot"
    IMAGE_PENDING_UPLOAD = "image_pending_upload"
    IMAGE_UPLOADING = "image_uploading"


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
    `steps` are the task_states the host moves a long action through, in order,
    after `task_state` (each reported by the host as it gets there).
    """

    vm_states: frozenset[str] | None
    task_states: frozenset[str | None] | None
    task_state: str | None
    done: str | None = None
    read_only: bool = False
    steps: tuple[str, ...] = ()

    @property
    def running(self) -> frozenset[str | None]:
        """The task_states the action is in while it runs."""
        return frozenset({self.task_state, *self.steps})


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
    # Resize: the guest moves to a host with room for the new flavor and waits there,
    # resized, until the user confirms (or the confirm window runs out) or reverts.
    # Confirming needs no task_state (Nova's): the migration's status guards it.
    "resize": Transition(
        vm_states=frozenset({VmState.ACTIVE, VmState.STOPPED}),
        task_states=IDLE,
        task_state=TaskState.RESIZE_PREP,
        done=VmState.RESIZED,
        steps=(TaskState.RESIZE_MIGRATING, TaskState.RESIZE_FINISH),
    ),
    "confirm_resize": Transition(
        vm_states=frozenset({VmState.RESIZED}), task_states=IDLE, task_state=None
    ),
    "revert_resize": Transition(
        vm_states=frozenset({VmState.RESIZED}),
        task_states=IDLE,
        task_state=TaskState.RESIZE_REVERTING,
    ),
    # Rebuild: the same host, the guest destroyed and spawned again from the new
    # image; a stopped server stays stopped. Evacuate (admin): the same, on another
    # host, when the server's host is down.
    "rebuild": Transition(
        vm_states=frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.ERROR}),
        task_states=IDLE,
        task_state=TaskState.REBUILDING,
        done=VmState.ACTIVE,
        steps=(TaskState.REBUILD_SPAWNING,),
    ),
    "evacuate": Transition(
        vm_states=frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.ERROR}),
        task_states=IDLE,
        task_state=TaskState.REBUILDING,
        done=VmState.ACTIVE,
        steps=(TaskState.REBUILD_SPAWNING,),
    ),
    # createImage: the vm_state is kept; the task clears when the image is written.
    "create_image": Transition(
        vm_states=frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED}),
        task_states=IDLE,
        task_state=TaskState.IMAGE_SNAPSHOT,
        steps=(TaskState.IMAGE_PENDING_UPLOAD, TaskState.IMAGE_UPLOADING),
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
    **{
        (vm, task): "RESIZE"
        for vm in (VmState.ACTIVE, VmState.STOPPED)
        for task in TRANSITIONS["resize"].running
    },
    (VmState.RESIZED, TaskState.RESIZE_REVERTING): "REVERT_RESIZE",
    **{
        (vm, task): "REBUILD"
        for vm in (VmState.ACTIVE, VmState.STOPPED, VmState.ERROR)
        for task in (TaskState.REBUILDING, TaskState.REBUILD_SPAWNING)
    },
}


def api_status(vm_state: str, task_state: str | None) -> str:
    """The API status; while deleting (or pausing, ...), Nova keeps showing the vm_state's."""
    return _TASK_STATUS.get((vm_state, task_state)) or _STATUS.get(vm_state, "UNKNOWN")


def vm_states_for_status(status: str) -> list[str]:
    """Inverse of api_status, for `GET /servers?status=...` filters."""
    status = status.upper()
    return [vm for vm, name in _STATUS.items() if name == status]


# -- periodic work (cloud.conductor.power_sync, cloud.conductor.deadlines) ----------

# Nova's _sync_instance_power_state: a guest the hypervisor finds off (or crashed, or
# suspended) while the platform has it running (or paused), with no task under way,
# stopped by itself: the instance becomes stopped (SHUTOFF), as Nova's stop API makes it.
STOPPED_BY_ITSELF: dict[str, frozenset[int]] = {
    VmState.ACTIVE: frozenset({PowerState.SHUTDOWN, PowerState.CRASHED, PowerState.SUSPENDED}),
    VmState.PAUSED: frozenset({PowerState.SHUTDOWN, PowerState.CRASHED}),
}

# A task that outlives its deadline ends as Nova leaves that action when it fails: these
# clear the task and keep the vm_state (the guest is as it was, or as the host left it,
# which the power-state sync shows); any other step (a build, a reboot, a delete, a
# resize or rebuild) puts the instance in ERROR, from where the user may retry or delete.
DEADLINE_KEEPS_VM_STATE: frozenset[str] = frozenset(
    {
        TaskState.POWERING_OFF,
        TaskState.POWERING_ON,
        TaskState.PAUSING,
        TaskState.UNPAUSING,
        TaskState.SUSPENDING,
        TaskState.RESUMING,
        TaskState.IMAGE_SNAPSHOT,
        TaskState.IMAGE_PENDING_UPLOAD,
        TaskState.IMAGE_UPLOADING,
    }
)
