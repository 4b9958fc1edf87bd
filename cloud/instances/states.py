"""The instance state machine: vm_state, task_state, power_state, and the API status.

This module is the one table of every state change an instance goes through:
which states each may start from and what it writes (Nova's
`check_instance_state` allow-lists and `instance.save(expected_task_state=...)`).
`TRANSITIONS` are the actions users start through the API (checked, 409 when
refused); `STEPS` are what the conductor writes on their behalf and on behalf of
hosts: a build's steps, the outcomes and steps of long actions, the power-state
sync and the deadline reaper. `cloud.instances.lifecycle` applies either with a
conditional UPDATE on the states it may start from; zero rows updated means
somebody else changed the instance first. Power states themselves are
`cloud.power_state` (the compute side shares them).
"""

import enum
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


class Keep(enum.Enum):
    """A state the transition leaves as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP

VM_STATES: frozenset[str] = frozenset(
    value for name, value in vars(VmState).items() if name.isupper()
)
TASK_STATES: frozenset[str] = frozenset(
    value for name, value in vars(TaskState).items() if name.isupper()
)


@dataclass(frozen=True)
class Transition:
    """A change allowed from `vm_states` x `task_states`: it writes `task_state` (for an
    action, the task_state it runs as) and `vm_state`, KEEP leaving either as it is; a
    set of vm_states is a choice the writer makes (the admin's reset, where a rebuild
    leaves a stopped guest), KEEP among them when it may also keep the vm_state.
    `power_state` is one the transition always writes (a host's report otherwise).

    For an API action, `done` is the vm_state it leaves when the host reports success
    (None: it keeps the vm_state, or it does not go to a host); `read_only` actions are
    only checked: they write no state at all. `steps` are the task_states the host
    moves a long action through, in order, after `task_state` (each reported by the
    host as it gets there).
    """

    vm_states: frozenset[str] | None
    task_states: frozenset[str | None] | None
    task_state: str | None | Keep
    done: str | None = None
    read_only: bool = False
    steps: tuple[str, ...] = ()
    vm_state: str | frozenset[str | Keep] | Keep = KEEP
    power_state: int | None = None

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
# What an admin may reset a server to (os-resetState).
RESET_STATES: frozenset[str | Keep] = frozenset({VmState.ACTIVE, VmState.ERROR})
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
    "reset_state": Transition(
        vm_states=ANY, task_states=ANY, task_state=None, vm_state=RESET_STATES
    ),
    # Server metadata changes (set, replace, delete a key): the api alone writes them,
    # and only on an idle server (Nova's update/delete_instance_metadata).
    "update_metadata": Transition(
        vm_states=frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.STOPPED}),
        task_states=IDLE,
        task_state=None,
        read_only=True,
    ),
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
    # A console token for the guest where it runs now (Nova rejects deleting and
    # migrating): not while it is going away or moving (cloud.instances.remote_consoles).
    "get_remote_console": Transition(
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
        task_states=frozenset({None, *TASK_STATES})
        - {
            TaskState.DELETING,
            TaskState.RESIZE_MIGRATING,
            TaskState.RESIZE_FINISH,
            TaskState.RESIZE_REVERTING,
            TaskState.REBUILDING,
            TaskState.REBUILD_SPAWNING,
        },
        task_state=None,
        read_only=True,
    ),
}


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


# -- what the conductor writes (cloud.conductor, cloud.instances.services) ----------


def _outcomes(
    action: str,
    *,
    done: str | frozenset[str | Keep] | Keep | None = None,
    failed: str | frozenset[str | Keep] | Keep = KEEP,
) -> dict[str, Transition]:
    """`<action>:done` and `<action>:failed`, the host's outcome: from any task_state the
    action runs as (an outcome that finds another action under way changes nothing),
    the task cleared; done leaves the action's vm_state (or `done`), failed keeps the
    vm_state (or leaves `failed`)."""
    rule = TRANSITIONS[action]
    left = done if done is not None else rule.done or KEEP
    return {
        f"{action}:done": Transition(
            vm_states=ANY, task_states=rule.running, task_state=None, vm_state=left
        ),
        f"{action}:failed": Transition(
            vm_states=ANY, task_states=rule.running, task_state=None, vm_state=failed
        ),
    }


def _steps(action: str) -> dict[str, Transition]:
    """`<action>:<step>`, a long action's step: from the action's task_state or an
    earlier step only (steps and the outcome may be handled out of order, and a late
    step must not pull back an action that has finished)."""
    rule = TRANSITIONS[action]
    order = (rule.task_state, *rule.steps)
    return {
        f"{action}:{step}": Transition(
            vm_states=ANY, task_states=frozenset(order[:index]), task_state=step
        )
        for index, step in enumerate(order)
        if index
    }


BUILDING: frozenset[str] = frozenset({VmState.BUILDING})
# Where a resize, its revert or a rebuild leaves the guest: running, or stopped as it was.
RUNNING_OR_STOPPED: frozenset[str | Keep] = frozenset({VmState.ACTIVE, VmState.STOPPED})
RESIZING: frozenset[str | None] = frozenset(TRANSITIONS["resize"].running)
REVERTING: frozenset[str | None] = frozenset({TaskState.RESIZE_REVERTING})

STEPS: dict[str, Transition] = {
    # The boot path. A new server's row is written building, for the scheduler
    # (`lifecycle.instance_initial_states`); the build goes to its claimed host (again
    # on an alternate, or after a reschedule), runs there, or fails with a fault. A
    # delete that took over while the host spawned goes on with the guest that is there.
    "create": Transition(
        vm_states=frozenset(),
        task_states=frozenset(),
        task_state=TaskState.SCHEDULING,
        vm_state=VmState.BUILDING,
    ),
    "spawn": Transition(
        vm_states=BUILDING,
        task_states=frozenset({TaskState.SCHEDULING, TaskState.SPAWNING}),
        task_state=TaskState.SPAWNING,
    ),
    "spawned": Transition(
        vm_states=BUILDING,
        task_states=frozenset({TaskState.SPAWNING}),
        task_state=None,
        vm_state=VmState.ACTIVE,
    ),
    "spawned_while_deleting": Transition(
        vm_states=BUILDING,
        task_states=frozenset({TaskState.DELETING}),
        task_state=KEEP,
        vm_state=VmState.ACTIVE,
    ),
    "reschedule": Transition(
        vm_states=BUILDING,
        task_states=frozenset({TaskState.SPAWNING}),
        task_state=TaskState.SCHEDULING,
    ),
    "build_failed": Transition(
        vm_states=BUILDING,
        task_states=frozenset({TaskState.SCHEDULING, TaskState.SPAWNING}),
        task_state=None,
        vm_state=VmState.ERROR,
    ),
    # The build deadline (BUILD_TIMEOUT) ends a build in whatever step it is stuck.
    "build_timed_out": Transition(
        vm_states=BUILDING, task_states=ANY, task_state=None, vm_state=VmState.ERROR
    ),
    # The guest is gone (or never was): the row stays, deleted, for the API's history.
    "mark_deleted": Transition(
        vm_states=ANY,
        task_states=ANY,
        task_state=None,
        vm_state=VmState.DELETED,
        power_state=PowerState.NOSTATE,
    ),
    # Server actions a host carries out; a reboot that leaves the guest not running
    # puts the server in ERROR.
    **_outcomes("reboot", failed=frozenset({KEEP, VmState.ERROR})),
    **_outcomes("reboot_hard", failed=frozenset({KEEP, VmState.ERROR})),
    **_outcomes("stop"),
    **_outcomes("start"),
    **_outcomes("pause"),
    **_outcomes("unpause"),
    **_outcomes("suspend"),
    **_outcomes("resume"),
    # Resize: the conductor moves the task along the action's steps as the source and
    # the destination report; it ends resized, or back on the source as it was (no
    # host found) or in ERROR (a host failed). A revert ends on the source as it was
    # before the resize, or in ERROR. A confirm (no task_state of its own) gives the
    # server back its vm_state from before the resize, even under a delete that has
    # taken over; only the source's cleanup failing puts it in ERROR.
    **_steps("resize"),
    "resize:done": Transition(
        vm_states=ANY,
        task_states=frozenset({TaskState.RESIZE_FINISH}),
        task_state=None,
        vm_state=TRANSITIONS["resize"].done or KEEP,
    ),
    "resize:failed": Transition(
        vm_states=ANY,
        task_states=RESIZING,
        task_state=None,
        vm_state=RUNNING_OR_STOPPED | {VmState.ERROR},
    ),
    "revert_resize:done": Transition(
        vm_states=frozenset({VmState.RESIZED}),
        task_states=REVERTING,
        task_state=None,
        vm_state=RUNNING_OR_STOPPED,
    ),
    "revert_resize:failed": Transition(
        vm_states=ANY, task_states=REVERTING, task_state=None, vm_state=VmState.ERROR
    ),
    "confirm_resize:done": Transition(
        vm_states=frozenset({VmState.RESIZED}),
        task_states=ANY,
        task_state=KEEP,
        vm_state=RUNNING_OR_STOPPED,
    ),
    "confirm_resize:failed": Transition(
        vm_states=ANY, task_states=IDLE, task_state=None, vm_state=VmState.ERROR
    ),
    # Rebuild and evacuate: running from the new image, or shut off as it was before;
    # failed, in ERROR with a fault. An evacuation that finds no host ends in ERROR on
    # the dead host.
    **_steps("rebuild"),
    **_outcomes("rebuild", done=RUNNING_OR_STOPPED, failed=VmState.ERROR),
    **_steps("evacuate"),
    **_outcomes("evacuate", done=RUNNING_OR_STOPPED, failed=VmState.ERROR),
    "evacuate:no_host": Transition(
        vm_states=ANY,
        task_states=frozenset({TaskState.REBUILDING}),
        task_state=None,
        vm_state=VmState.ERROR,
    ),
    # createImage: the task clears either way, the guest is as it was.
    **_steps("create_image"),
    **_outcomes("create_image"),
    # The power-state sync, with no task under way: the power state as the host
    # found it, and a guest that stopped by itself makes its instance stopped.
    "power_sync": Transition(vm_states=ANY, task_states=IDLE, task_state=KEEP),
    "stopped_by_itself": Transition(
        vm_states=frozenset(STOPPED_BY_ITSELF),
        task_states=IDLE,
        task_state=KEEP,
        vm_state=VmState.STOPPED,
    ),
    # Deadlines of tasks other than a build's (DEADLINE_KEEPS_VM_STATE above).
    "task_expired": Transition(
        vm_states=VM_STATES - BUILDING,
        task_states=frozenset(DEADLINE_KEEPS_VM_STATE),
        task_state=None,
    ),
    "task_expired_error": Transition(
        vm_states=VM_STATES - BUILDING,
        task_states=frozenset(TASK_STATES - DEADLINE_KEEPS_VM_STATE),
        task_state=None,
        vm_state=VmState.ERROR,
    ),
}


def transition(name: str) -> Transition:
    """An API action's transition or a conductor step (KeyError: no such change)."""
    return TRANSITIONS[name] if name in TRANSITIONS else STEPS[name]
