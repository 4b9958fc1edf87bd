"""Conductor service for the steps of long actions (rebuild, snapshot) a host reports.

A step moves the instance's task_state forward along the state machine's
`steps` for the action, from an earlier one only: steps and the outcome may be
handled out of order by the conductor's threads, and a late step must not
pull back an instance whose action has finished.
"""

import logging

from django.db import transaction

from cloud.instances.lifecycle import instance_transition
from cloud.instances.states import TRANSITIONS
from cloud.payloads import TaskProgress

log = logging.getLogger(__name__)


@transaction.atomic
def task_progress(*, progress: TaskProgress) -> bool:
    """Move a long action to the step the host reached (from an earlier one only);
    False when the instance has moved on (the outcome came first, or a delete)."""
    rule = TRANSITIONS[progress.action]
    if progress.step not in rule.steps:
        log.warning("%s: %s has no step %r", progress.instance_uuid, progress.action, progress.step)
        return False
    return instance_transition(
        uuid=progress.instance_uuid,
        step=f"{progress.action}:{progress.step}",
        expected={"host": progress.host},
        values={} if progress.progress is None else {"progress": progress.progress},
    )
