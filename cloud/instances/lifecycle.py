"""The lifecycle of an instance: the one place its vm_state, task_state and
power_state are written.

`instance_transition` applies a transition of the table in
cloud.instances.states (an API action, or a step the conductor writes for a
build, a host's outcome, the power-state sync or a deadline) as one
conditional UPDATE on the states it may start from; zero rows updated is a
conflict: for the api a 409 naming the current state
(`instance_transition_start`), for the conductor a sign that another action
took over and this write must not overwrite it. Callers that hold the row's
lock (select_for_update) make the update under it.
"""

from typing import Any

from django.db.models import Q
from django.utils import timezone

from cloud.api.errors import Conflict, NotFound
from cloud.identity.context import RequestContext
from cloud.instances import notifications, states
from cloud.instances.models import Instance


def _task_state_in(task_states: frozenset[str | None]) -> Q:
    named = [t for t in task_states if t is not None]
    q = Q(task_state__in=named)
    return q | Q(task_state__isnull=True) if None in task_states else q


def _expecting(qs, rule: states.Transition):
    if rule.vm_states is not states.ANY:
        qs = qs.filter(vm_state__in=rule.vm_states)
    if rule.task_states is not states.ANY:
        qs = qs.filter(_task_state_in(rule.task_states))
    return qs


STATE_FIELDS = frozenset({"vm_state", "task_state", "power_state"})


def _writes(
    step: str, rule: states.Transition, vm_state: str | states.Keep | None, power_state: int | None
) -> dict[str, Any]:
    """The state columns `step` writes; a vm_state the table does not offer, or a
    choice not made, is a programming error."""
    left = rule.vm_state
    if isinstance(left, frozenset):
        if vm_state not in left:
            raise ValueError(f"{step} leaves one of {sorted(map(str, left))}, not {vm_state}")
        left = vm_state
    elif vm_state is not None and vm_state != left:
        raise ValueError(f"{step} leaves {left}, not {vm_state}")
    written: dict[str, Any] = {}
    if not isinstance(left, states.Keep):
        written["vm_state"] = left
    if not isinstance(rule.task_state, states.Keep):
        written["task_state"] = rule.task_state
    reported = rule.power_state if rule.power_state is not None else power_state
    if reported is not None:
        written["power_state"] = reported
    return written


def instance_initial_states() -> dict[str, Any]:
    """The vm_state and task_state a new server's row is written with (the table's
    "create")."""
    rule = states.STEPS["create"]
    return _writes("create", rule, None, None)


def instance_transition(
    *,
    step: str,
    instance: Instance | None = None,
    uuid: str | None = None,
    expected: dict[str, Any] | None = None,
    vm_state: str | states.Keep | None = None,
    power_state: int | None = None,
    values: dict[str, Any] | None = None,
) -> bool:
    """Apply `step` (cloud.instances.states) to the live instance (`instance`, or the one
    with `uuid`) if it still is in a state the step may start from and has the
    `expected` columns (the host an outcome comes from, `locked=False`); True when the
    row changed. `vm_state` is the writer's choice where the step offers several,
    `power_state` a host's report, `values` the other columns written with it."""
    rule = states.transition(step)
    if rule.read_only:
        raise ValueError(f"{step} writes nothing")
    if STATE_FIELDS & set(values or {}):
        raise ValueError(f"{step}: states are written by the table, not as values")
    row = {"pk": instance.pk} if instance is not None else {"uuid": uuid}
    qs = _expecting(Instance.objects.filter(**row, deleted=False, **(expected or {})), rule)
    changed = bool(
        qs.update(
            **_writes(step, rule, vm_state, power_state),
            updated_at=timezone.now(),
            **(values or {}),
        )
    )
    if changed:
        # instance.update for operators; the states before are the caller's copy's.
        notifications.state_updated(
            uuid=str(instance.uuid if instance is not None else uuid),
            old_state=instance.vm_state if instance is not None else None,
            old_task_state=instance.task_state if instance is not None else None,
        )
    return changed


def _refuse(*, instance: Instance, action: str, method: str, context: RequestContext) -> None:
    """Raise the 409 (or 404) that explains why `action` cannot start now."""
    current = Instance.objects.filter(pk=instance.pk, deleted=False).first()
    if current is None:
        raise NotFound(f"Instance {instance.uuid} could not be found.")
    if current.locked and not context.is_admin:
        raise Conflict(f"Instance {current.uuid} is locked")
    raise Conflict(
        states.refusal(action, method, str(current.uuid), current.vm_state, current.task_state)
    )


def instance_check(
    *, context: RequestContext, instance: Instance, action: str, method: str
) -> None:
    """409 unless the table allows `action` (a read-only one) in the instance's state."""
    if not states.allowed(action, instance.vm_state, instance.task_state):
        _refuse(instance=instance, action=action, method=method, context=context)
    if not instance.host:
        raise Conflict(f"Instance {instance.uuid} is not ready")


def instance_transition_start(
    *,
    context: RequestContext,
    instance: Instance,
    action: str,
    method: str,
    vm_state: str | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    """Move the instance into `action`'s task_state if it still is in a state the
    table allows (and, for non-admins, not locked); else 409 naming the state."""
    if not instance_transition(
        step=action,
        instance=instance,
        expected=None if context.is_admin else {"locked": False},
        vm_state=vm_state,
        values=values,
    ):
        _refuse(instance=instance, action=action, method=method, context=context)
