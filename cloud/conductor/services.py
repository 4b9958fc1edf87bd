"""Conductor services: scheduling hand-offs, build outcomes, terminations, heartbeats.

Each function is safe to run twice with the same input (tasks are acked
late and may be redelivered): it locks the instance, looks at where it
stands, and does only what is still missing.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cloud.api.parsing import uuid_or_none
from cloud.hosts.services import compute_node_build_outcome, compute_node_report
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition
from cloud.instances.migration_selectors import migration_locked, migrations_holding
from cloud.instances.scheduling import (
    SCHEDULE_EVENT,
    instances_ask_scheduler,
    scheduling_request,
)
from cloud.instances.selectors import (
    instance_action_request_id,
    instance_live,
    instance_locked,
    instances_building_stuck,
    instances_live,
    request_spec_get,
    request_spec_locked,
)
from cloud.instances.services import (
    instance_mark_deleted,
    request_spec_alternates_set,
    request_spec_update,
)
from cloud.instances.specs import instance_spec
from cloud.instances.states import TaskState, VmState
from cloud.instances.volume_attach import instance_root_volume
from cloud.network.servers import server_ports_bind
from cloud.payloads import (
    BuildFailure,
    BuildRequest,
    HostReport,
    SchedulerAnswer,
    SpawnResult,
    Terminated,
    TerminateRequest,
    VolumeResult,
)
from cloud.placement.claims import (
    InventorySpec,
    allocations_delete,
    allocations_move,
    provider_in_step,
    provider_sync,
)
from cloud.placement.selectors import consumer_provider, consumers_claimed_before
from cloud.rpc import cast_compute, scheduler_select
from cloud.scheduler.groups import group_member_remove
from cloud.scheduler.services import claim_on
from cloud.volumes import services as volumes
from cloud.volumes.boot import (
    Made,
    boot_attachment,
    boot_volume_discard,
    boot_volume_drop,
    boot_volume_make,
)

if TYPE_CHECKING:
    from cloud.instances.models import Instance, Migration

log = logging.getLogger(__name__)

BUILD_EVENT = "compute_build_and_run_instance"


def migration_schedule(
    *, instance: Instance, migration_uuid: str, request_id: str, overrides: dict, answer_to: str
) -> None:
    """Ask the scheduler for a migration's destination (the request spec with
    `overrides`); its answer goes to the task `answer_to`. The migration first takes
    what the instance holds on the source, so the scheduler claims for the instance
    afresh; redelivered after the scheduler claimed, the migration holds that already
    and the instance's claim is the new host's."""
    if consumer_provider(consumer_id=migration_uuid) is None:
        allocations_move(
            source=str(instance.uuid),
            target=migration_uuid,
            project_id=instance.project_id,
            user_id=instance.user_id,
        )
    spec = request_spec_get(instance_uuid=instance.uuid)
    request = replace(
        scheduling_request(spec, instance),
        **overrides,
        migration_uuid=migration_uuid,
        request_id=request_id,
    )
    scheduler_select(request, answer_to=answer_to)


def migration_answered(selection: SchedulerAnswer) -> tuple[Migration, Instance] | None:
    """The locked migration and instance a scheduler's answer is for; None when the
    migration is gone, or the server was deleted meanwhile (the claim the scheduler made
    for it after the delete is freed)."""
    found = migration_locked(migration_uuid=selection.migration_uuid)
    if found is None:
        return None
    if found[1].deleted:
        allocations_delete(consumer_id=str(found[1].uuid))
        return None
    return found


@transaction.atomic
def instances_schedule(*, instance_uuids: list[str], request_id: str) -> None:
    pending = []
    for uuid in instance_uuids:
        spec = request_spec_locked(instance_uuid=uuid)
        instance = instance_live(uuid=uuid)
        if spec is None or instance is None or instance.task_state != TaskState.SCHEDULING:
            continue
        if spec.num_attempts == 0:
            request_spec_update(request_spec=spec, num_attempts=1)
            actions.event_start(
                instance_uuid=uuid, request_id=request_id, event=SCHEDULE_EVENT, host=None
            )
        pending.append((spec, instance))
    if pending:
        instances_ask_scheduler(pending, request_id)


def _root_volume_fault(uuid: str, reason: str) -> str:
    return f"Build of instance {uuid} aborted: {reason}"[:255]


def _fail_build(
    instance: Instance,
    request_id: str,
    message: str,
    details: str,
    host: str | None,
    step: str = "build_failed",
) -> None:
    instance_transition(instance=instance, step=step, values={"host": host, "node": host})
    allocations_delete(consumer_id=str(instance.uuid))
    root = instance_root_volume(instance)
    if root is not None:
        # A volume from an image its build never asked for (no host was chosen) goes.
        boot_volume_drop(attachment_id=str(root.id))
    actions.fault_record(
        instance_uuid=str(instance.uuid), code=500, message=message, details=details, host=host
    )
    actions.action_finish(instance_uuid=str(instance.uuid), request_id=request_id, message="Error")


@transaction.atomic
def schedule_done(*, selection: SchedulerAnswer) -> None:
    uuid = selection.instance_uuid
    request_id = selection.request_id
    instance = instance_locked(uuid=uuid)
    if instance is None or instance.deleted or instance.task_state != TaskState.SCHEDULING:
        # Deleted (or moved on) while the scheduler worked: give back what it took,
        # and the group membership its claim wrote after the delete removed it.
        if instance is None or instance.deleted:
            allocations_delete(consumer_id=uuid)
            group_member_remove(instance_uuid=uuid)
        elif instance.vm_state == VmState.ERROR and instance.launched_at is None:
            # The build ended (its deadline, a failure) before this answer came, and
            # the claim it freed was made again by a late or redelivered request: no
            # build holds it. (A live build's claim is the one every answer names.)
            allocations_delete(consumer_id=uuid)
        return
    if selection.error:
        actions.event_finish(
            instance_uuid=uuid,
            request_id=request_id,
            event=SCHEDULE_EVENT,
            host=None,
            result="Error",
            details=selection.error,
        )
        _fail_build(instance, request_id, selection.error, "", None)
        return
    request_spec_alternates_set(instance_uuid=uuid, alternates=selection.alternates)
    _build_on(instance, selection.host, request_id, selection.attempt, "")


def _build_on(instance: Instance, host: str, request_id: str, attempt: int, how: str) -> None:
    """Point the instance at its claimed host and cast the build there."""
    uuid = str(instance.uuid)
    # progress stays 0 until the guest runs, as with Nova: `openstack server create
    # --wait` prints a changing progress on stdout, into the JSON a script reads.
    instance_transition(instance=instance, step="spawn", values={"host": host, "node": host})
    actions.event_finish(
        instance_uuid=uuid,
        request_id=request_id,
        event=SCHEDULE_EVENT,
        host=host,
        result="Success",
        details=f"attempt {attempt} on {host}{how}",
    )
    actions.event_start(instance_uuid=uuid, request_id=request_id, event=BUILD_EVENT, host=host)
    server_ports_bind(instance_uuid=uuid, host=host)
    root = instance_root_volume(instance)
    if root is not None:
        # The build goes out when the volume worker has exported the root volume to
        # this host (cloud.conductor.volume_attach.connection_ready); one made from an
        # image for the server is made first (volume_created goes on from there).
        made, reason = boot_volume_make(attachment_id=str(root.id), host=host)
        if made == Made.FAILED:
            _fail_build(instance, request_id, _root_volume_fault(uuid, reason), "", host)
        elif made == Made.MADE:
            volumes.attachment_initialize(str(root.id))
        return
    request = BuildRequest(
        instance=instance_spec(instance).to_dict(), request_id=request_id, attempt=attempt
    )
    cast_compute(host, "compute.build_and_run_instance", request)


@transaction.atomic
def instance_spawned(*, result: SpawnResult) -> None:
    instance = instance_locked(uuid=result.instance_uuid)
    if instance is None:
        return
    if instance.deleted:
        # Deleted locally while this host built it: remove the orphan guest.
        cast_compute(
            result.host,
            "compute.terminate_instance",
            TerminateRequest(
                instance_uuid=result.instance_uuid,
                name=instance.domain_name,
                request_id=result.request_id,
            ),
        )
        return
    if instance.vm_state != VmState.BUILDING or instance.host != result.host:
        return
    instance_transition(
        instance=instance,
        step="spawned" if instance.task_state == TaskState.SPAWNING else "spawned_while_deleting",
        power_state=result.power_state,
        values={"launched_at": timezone.now(), "progress": 100},
    )
    compute_node_build_outcome(host=result.host, failed=False)
    root = instance_root_volume(instance)
    if root is not None:
        volumes.attachment_connected(str(root.id), "/dev/vda")
    actions.finish(
        instance_uuid=result.instance_uuid,
        request_id=result.request_id,
        event=BUILD_EVENT,
        host=result.host,
        result="Success",
    )


@transaction.atomic
def build_failed(*, failure: BuildFailure) -> None:
    """Free the claim on the failed host; reschedule elsewhere or give up with a fault."""
    uuid = failure.instance_uuid
    instance = instance_locked(uuid=uuid)
    if instance is None or instance.deleted:
        allocations_delete(consumer_id=uuid)
        return
    if instance.vm_state != VmState.BUILDING or instance.host != failure.host:
        return
    actions.event_finish(
        instance_uuid=uuid,
        request_id=failure.request_id,
        event=BUILD_EVENT,
        host=failure.host,
        result="Error",
        traceback=failure.details,
        details=failure.message,
    )
    compute_node_build_outcome(host=failure.host, failed=True)
    if instance.task_state == TaskState.DELETING:
        instance_mark_deleted(instance=instance)
        return
    spec = request_spec_locked(instance_uuid=uuid)
    if spec.num_attempts >= max(1, settings.SCHEDULER_MAX_ATTEMPTS):
        message = (
            f"Build of instance {uuid} failed on {spec.num_attempts} host(s); "
            f"last error on {failure.host}: {failure.message}"
        )
        _fail_build(instance, failure.request_id, message[:255], failure.details, failure.host)
        return
    allocations_delete(consumer_id=uuid)
    ignore_hosts = [*spec.ignore_hosts, failure.host]
    alternates = list(spec.alternates)
    actions.event_start(
        instance_uuid=uuid, request_id=failure.request_id, event=SCHEDULE_EVENT, host=None
    )
    request = replace(scheduling_request(spec, instance), ignore_hosts=ignore_hosts)
    host = None
    while alternates and host is None:
        alternate = alternates.pop(0)
        if alternate not in ignore_hosts and claim_on(request, alternate):
            host = alternate
    request_spec_update(
        request_spec=spec,
        ignore_hosts=ignore_hosts,
        num_attempts=spec.num_attempts + 1,
        alternates=alternates,
    )
    if host is not None:
        _build_on(instance, host, failure.request_id, spec.num_attempts, " (alternate)")
        return
    instance_transition(instance=instance, step="reschedule", values={"host": None, "node": None})
    instances_ask_scheduler([(spec, instance)], failure.request_id)


@transaction.atomic
def instance_terminated(*, terminated: Terminated) -> None:
    instance = instance_locked(uuid=terminated.instance_uuid)
    if instance is None or instance.deleted:
        return
    instance_mark_deleted(instance=instance)
    actions.finish(
        instance_uuid=terminated.instance_uuid,
        request_id=terminated.request_id,
        event="compute_terminate_instance",
        host=terminated.host,
        result="Success",
    )


@transaction.atomic
def volume_created(*, result: VolumeResult) -> None:
    """A volume worker made a volume (or could not): conductor.volume_created. One made
    for a server's boot (cloud.volumes.boot) is connected to the server's host now, as
    a root volume the user made; a server deleted meanwhile lets it go (it goes too if
    marked delete_on_termination); a create that failed fails the build, with the
    worker's reason as the fault, and frees its claim (no other host can make it)."""
    attachment = boot_attachment(volume_id=result.volume_id)
    # The instance first, then the volume: the order of every write on both.
    instance = instance_locked(uuid=str(attachment.instance_uuid)) if attachment else None
    moved = volumes.volume_create_reported(result=result)
    if attachment is None or not moved:
        return
    uuid = str(attachment.instance_uuid)
    gone = instance is None or instance.deleted or instance.task_state == TaskState.DELETING
    if gone or result.error:
        reason = result.error or f"Instance {uuid} was deleted while its root volume was made."
        volumes.attachment_failed(str(attachment.id), reason)
        if attachment.delete_on_termination:
            boot_volume_discard(volume_id=result.volume_id)
        if not gone and instance.vm_state == VmState.BUILDING:
            request_id = result.request_id or instance_action_request_id(
                instance_uuid=uuid, action="create"
            )
            _fail_build(instance, request_id, _root_volume_fault(uuid, reason), "", instance.host)
        return
    if (
        instance.vm_state == VmState.BUILDING
        and attachment.host
        and instance.host == attachment.host
    ):
        volumes.attachment_initialize(str(attachment.id))


def compute_heartbeat(*, report: HostReport) -> None:
    """Keep the host's placement inventory in step, then record it as alive: two queries
    when the report repeats the last one. In that order, a host is never up (a scheduler
    candidate) without its provider: a first heartbeat's node row committed before its
    inventory would make a build in between find no room on a host that has it."""
    inventories = {
        "VCPU": InventorySpec(total=report.vcpus, allocation_ratio=settings.CPU_ALLOCATION_RATIO),
        "MEMORY_MB": InventorySpec(
            total=report.memory_mb,
            reserved=min(settings.RESERVED_HOST_MEMORY_MB, report.memory_mb),
            allocation_ratio=settings.RAM_ALLOCATION_RATIO,
        ),
        "DISK_GB": InventorySpec(
            total=report.local_gb, allocation_ratio=settings.DISK_ALLOCATION_RATIO
        ),
    }
    if not provider_in_step(name=report.host, inventories=inventories):
        provider_sync(name=report.host, inventories=inventories)
    compute_node_report(report=report)


def builds_reap_stuck(*, timeout_seconds: int) -> int:
    """Fail builds stuck past their deadline, saying in which step, and free their claims."""
    deadline = timezone.now() - timedelta(seconds=timeout_seconds)
    reaped = 0
    for uuid in instances_building_stuck(updated_before=deadline, limit=500):
        with transaction.atomic():
            instance = instance_locked(uuid=uuid)
            if (
                instance is None
                or instance.vm_state != VmState.BUILDING
                or instance.updated_at >= deadline
            ):
                continue
            request_id = instance_action_request_id(instance_uuid=uuid, action="create")
            step = instance.task_state or "build"
            where = f" on {instance.host}" if instance.host else ""
            _fail_build(
                instance,
                request_id,
                f"Build timed out after {timeout_seconds}s in step '{step}'{where}.",
                "",
                instance.host,
                step="build_timed_out",
            )
            reaped += 1
    return reaped


def _as_uuid(value: str) -> uuidlib.UUID | None:
    return uuid_or_none(value)


def allocations_reap_orphans(*, older_than_seconds: int) -> int:
    """Free claims whose instance is deleted or was never written.

    Normally the delete that marks an instance deleted frees its claim, and a
    claim that lands after a delete is given back by `schedule_done` (with the
    group membership written with it); this sweeps what an interrupted hand-off
    (a broker outage, a stopped stack) left behind.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    consumers = {c: _as_uuid(c) for c in consumers_claimed_before(cutoff=cutoff)}
    known = [u for u in consumers.values() if u]
    live = {uuid_or_none(uuid) for uuid in instances_live(uuids=known)}
    # A resize's source allocation is held by its migration until confirmed or reverted.
    live |= migrations_holding(consumer_ids=known)
    freed = 0
    for consumer, uuid in sorted(consumers.items()):
        if uuid in live:
            continue
        with transaction.atomic():
            if uuid is None or not instances_live(uuids=[uuid]):
                freed += 1 if allocations_delete(consumer_id=consumer) else 0
                # A claim that landed after the delete wrote a membership with it.
                if uuid is not None:
                    group_member_remove(instance_uuid=consumer)
    if freed:
        log.warning("freed the claims of %d deleted or unknown instances", freed)
    return freed
