"""Resize on behalf of API users: start one, confirm it, revert it (Nova's flow).

The api checks the state machine, the flavor and the quota, records a
Migration and an instance action, and hands over to the conductor
(cloud.conductor.resize), which moves the source allocation to the migration,
has the scheduler claim the new flavor on a destination, and drives the
compute steps. While a resize is unconfirmed the instance's `vcpus` and
`memory_mb` columns hold the larger of its two flavors, so quota usage (a sum
over those columns) counts the larger one and cannot drift; the confirm or the
revert sets them to the flavor kept.

Confirm and revert start here: the migration's status moves on with a
conditional update (a second confirm, or a revert racing a confirm, finds it
moved and answers 400 as Nova does), and the conductor finishes them.
"""

from django.db import transaction
from django.utils import timezone

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.hosts.selectors import host_up
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.instances import actions, lifecycle, remote_consoles
from cloud.instances.choices import MigrationStatus
from cloud.instances.models import Flavor, Instance, Migration
from cloud.instances.selectors import flavor_get
from cloud.payloads import MigrationRequest, MigrationTask, TerminateRequest
from cloud.placement.claims import allocations_delete
from cloud.rpc import cast_compute, cast_conductor, host_too_old

# Statuses of a migration whose consumer still holds the source host's allocation.
UNFINISHED = (
    MigrationStatus.PRE_MIGRATING,
    MigrationStatus.MIGRATING,
    MigrationStatus.FINISHED,
    MigrationStatus.CONFIRMING,
    MigrationStatus.REVERTING,
)


def _larger_size(old: dict, new: dict) -> dict[str, int]:
    """The instance's quota columns while a resize between two flavors is unconfirmed."""
    return {
        "vcpus": max(old["vcpus"], new["vcpus"]),
        "memory_mb": max(old["memory_mb"], new["memory_mb"]),
    }


def flavor_size(flavor: dict) -> dict[str, int]:
    """The instance's quota columns once it keeps `flavor`."""
    return {"vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"]}


def _flavor_find(*, context: RequestContext, flavor_ref: str) -> Flavor:
    try:
        return flavor_get(flavor_id=flavor_ref, context=context)
    except NotFound as exc:
        raise BadRequest("Unable to locate requested flavor.") from exc


def _check_flavor(instance: Instance, flavor: Flavor) -> None:
    old = instance.flavor
    if flavor.flavorid == old["flavorid"]:
        raise BadRequest("When resizing, instances must change flavor!")
    if flavor.disabled:
        raise BadRequest(f"Flavor {flavor.flavorid} is disabled and cannot be resized to.")
    if flavor.root_gb < old["root_gb"]:
        raise BadRequest(
            f"Resize error: unable to resize the root disk down from {old['root_gb']} GB "
            f"to {flavor.root_gb} GB (flavor {flavor.name})."
        )


def _check_source(instance: Instance) -> None:
    if not host_up(host=instance.host):
        raise Conflict(
            f"Cannot 'resize' instance {instance.uuid}: its compute host {instance.host} is down"
        )
    too_old = host_too_old(instance.host, MigrationRequest)
    if too_old:
        raise Conflict(too_old)


@transaction.atomic
def server_resize(
    *, context: RequestContext, request_id: str, instance: Instance, flavor_ref: str
) -> Migration:
    """Start a resize: 400 for a flavor it cannot find or take, 409 unless active or
    stopped and idle, 403 when the larger flavor does not fit in the quota; the conductor
    goes on."""
    flavor = _flavor_find(context=context, flavor_ref=flavor_ref)
    lifecycle.instance_check(context=context, instance=instance, action="resize", method="resize")
    _check_flavor(instance, flavor)
    _check_source(instance)
    old, new = instance.flavor, flavor.snapshot()
    quotas.quota_enforce(
        project_id=instance.project_id,
        user_id=instance.user_id,
        deltas={
            "cores": new["vcpus"] - old["vcpus"],
            "ram": new["memory_mb"] - old["memory_mb"],
        },
    )
    lifecycle.instance_transition_start(
        context=context,
        instance=instance,
        action="resize",
        method="resize",
        values={**_larger_size(old, new), "progress": 0},
    )
    remote_consoles.server_consoles_revoke(instance=instance)
    migration = Migration.objects.create(
        instance_uuid=instance.uuid,
        project_id=instance.project_id,
        user_id=instance.user_id,
        source_compute=instance.host,
        source_node=instance.node or instance.host,
        old_flavor=old,
        new_flavor=new,
        old_vm_state=instance.vm_state,
    )
    actions.action_start(
        instance_uuid=str(instance.uuid),
        action="resize",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    cast_conductor(
        "conductor.resize_instance",
        MigrationTask(migration_uuid=str(migration.uuid), request_id=request_id),
    )
    return migration


def _move_on(instance: Instance, to: str) -> Migration:
    """The instance's finished resize, moved to status `to` in a conditional update;
    400 (Nova's) when there is none (never resized, or confirmed or reverted already)."""
    migration = Migration.objects.filter(
        instance_uuid=instance.uuid, status=MigrationStatus.FINISHED
    ).first()
    if migration is None or not Migration.objects.filter(
        pk=migration.pk, status=MigrationStatus.FINISHED
    ).update(status=to, updated_at=timezone.now()):
        raise BadRequest("Instance has not been resized.")
    return migration


def migration_confirm_start(
    *, instance: Instance, request_id: str, user_id: str, project_id: str
) -> Migration:
    """Mark the instance's resize confirming and record the confirmResize action (the
    api's confirm and the conductor's auto-confirm); call inside a transaction."""
    migration = _move_on(instance, MigrationStatus.CONFIRMING)
    actions.action_start(
        instance_uuid=str(instance.uuid),
        action="confirmResize",
        request_id=request_id,
        user_id=user_id,
        project_id=project_id,
    )
    return migration


@transaction.atomic
def server_confirm_resize(*, context: RequestContext, request_id: str, instance: Instance) -> None:
    """Keep the new flavor: the conductor frees the source (its guest and allocation)."""
    lifecycle.instance_transition_start(
        context=context, instance=instance, action="confirm_resize", method="confirm_resize"
    )
    migration = migration_confirm_start(
        instance=instance,
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    cast_conductor(
        "conductor.confirm_resize",
        MigrationTask(migration_uuid=str(migration.uuid), request_id=request_id),
    )


@transaction.atomic
def server_revert_resize(*, context: RequestContext, request_id: str, instance: Instance) -> None:
    """Go back to the old flavor on the source host: REVERT_RESIZE until it runs there."""
    lifecycle.instance_transition_start(
        context=context, instance=instance, action="revert_resize", method="revert_resize"
    )
    remote_consoles.server_consoles_revoke(instance=instance)
    migration = _move_on(instance, MigrationStatus.REVERTING)
    actions.action_start(
        instance_uuid=str(instance.uuid),
        action="revertResize",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    cast_conductor(
        "conductor.revert_resize",
        MigrationTask(migration_uuid=str(migration.uuid), request_id=request_id),
    )


def instance_migrations_drop(*, instance: Instance) -> None:
    """A deleted instance's unfinished migrations end in error, in the caller's
    transaction: their source allocations are freed, and a guest left on a source
    host the instance no longer points at is removed there (Nova confirms a resize
    before deleting)."""
    moving = list(
        Migration.objects.select_for_update().filter(
            instance_uuid=instance.uuid, status__in=UNFINISHED
        )
    )
    for migration in moving:
        allocations_delete(consumer_id=str(migration.uuid))
        if migration.source_compute != instance.host and host_up(host=migration.source_compute):
            cast_compute(
                migration.source_compute,
                "compute.terminate_instance",
                TerminateRequest(
                    instance_uuid=str(instance.uuid),
                    name=instance.domain_name,
                    request_id=f"req-drop-{migration.uuid}",
                ),
            )
    Migration.objects.filter(pk__in=[m.pk for m in moving]).update(
        status=MigrationStatus.ERROR, updated_at=timezone.now()
    )
