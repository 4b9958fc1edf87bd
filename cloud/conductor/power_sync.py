"""The power-state sync: what a host's libvirt says of its guests, written to their instances.

Each compute host reports every guest it has (`conductor.sync_power_states`, every
POWER_SYNC_INTERVAL, and once when its worker starts). As Nova's
`_sync_instance_power_state` does, the instance's power_state follows the
hypervisor, and a guest that stopped by itself (the table
`states.STOPPED_BY_ITSELF`) makes its instance stopped (SHUTOFF), recorded as a
"stop" instance action whose event says why. It never fights an action: an
instance with a task under way, or changed since the host looked (the report's
`sampled_at`), is left for the next report. Guests that are no live instance are
recorded on the host for admins (os-hypervisors `unknown_domains`) and logged,
never destroyed.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cloud.hosts.services import compute_node_unknown_domains
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.selectors import instance_idle_locked, instances_idle_on_host, instances_live
from cloud.instances.states import STOPPED_BY_ITSELF
from cloud.payloads import GuestStates
from cloud.power_state import PowerState

if TYPE_CHECKING:
    from cloud.instances.models import Instance

log = logging.getLogger(__name__)

SYNC_EVENT = "conductor_sync_power_state"
_SEEN_AS = {
    PowerState.SHUTDOWN: "shut off",
    PowerState.CRASHED: "crashed",
    PowerState.SUSPENDED: "suspended",
}


def host_time(value: str) -> datetime:
    """A moment a host reported (ISO 8601), bounded by now: a host's fast clock must not
    make newer changes look older than what it saw."""
    now = timezone.now()
    moment = parse_datetime(value) if value else None
    return min(moment, now) if moment is not None and moment.tzinfo is not None else now


def _record_stop(instance: Instance, host: str, found: int) -> None:
    request_id = f"req-{uuidlib.uuid4()}"
    uuid = str(instance.uuid)
    message = (
        f"The guest stopped by itself: libvirt on {host} has it {_SEEN_AS[found]} while it "
        f"was {instance.vm_state}, with no action under way; the server is now SHUTOFF."
    )
    log.warning("instance %s: %s", uuid, message)
    actions.action_start(
        instance_uuid=uuid,
        action="stop",
        request_id=request_id,
        user_id="",
        project_id=instance.project_id,
    )
    actions.finish(
        instance_uuid=uuid,
        request_id=request_id,
        event=SYNC_EVENT,
        host=host,
        result="Success",
        details=message,
    )


@transaction.atomic
def _instance_sync(uuid: uuidlib.UUID, host: str, found: int, sampled_at: datetime) -> bool:
    instance = instance_idle_locked(uuid=uuid, host=host, updated_before=sampled_at)
    if instance is None:
        return False
    stopped = found in STOPPED_BY_ITSELF.get(instance.vm_state, frozenset())
    instance_transition(
        instance=instance, step="stopped_by_itself" if stopped else "power_sync", power_state=found
    )
    if stopped:
        _record_stop(instance, host, found)
    elif found == PowerState.NOSTATE:
        log.warning("instance %s is not on its host %s (libvirt has no such guest)", uuid, host)
    return True


def _unknown_record(states: GuestStates) -> None:
    reported = set(states.guests)
    known = set(instances_live(uuids=list(reported)))
    unknown = sorted(reported - known)
    if compute_node_unknown_domains(host=states.host, uuids=unknown) and unknown:
        log.warning(
            "host %s has %d guest(s) that are no instance of this cloud: %s. They are left "
            "as they are (os-hypervisors shows them as unknown_domains); an operator "
            "decides whether to remove them (virsh undefine).",
            states.host,
            len(unknown),
            ", ".join(unknown),
        )


def power_states_sync(*, states: GuestStates) -> int:
    """Bring the host's instances in line with its report; returns how many changed."""
    sampled_at = host_time(states.sampled_at)
    changed = 0
    rows = instances_idle_on_host(host=states.host, updated_before=sampled_at)
    for uuid, vm_state, power_state in rows:
        found = states.guests.get(str(uuid), PowerState.NOSTATE)
        if found != power_state or found in STOPPED_BY_ITSELF.get(vm_state, frozenset()):
            changed += _instance_sync(uuid, states.host, found, sampled_at)
    _unknown_record(states)
    return changed
