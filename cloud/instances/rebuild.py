"""Rebuild (the guest spawned again from an image, on its host) and evacuate (the same,
on another host, when its own is down): the api's half.

A rebuild writes the new image, name and metadata on the instance at once (as
Nova does: the server shows them while it rebuilds), moves it to `rebuilding`
and casts `compute.rebuild_instance` to its host. An evacuation checks that
the host is really down, moves the instance to `rebuilding`, records a
migration (type `evacuation`) and hands it to the conductor, which asks the
scheduler for another host (cloud.conductor.evacuate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.hosts.selectors import host_up, node_find
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.images.choices import ImageStatus
from cloud.images.selectors import image_get
from cloud.instances import actions, remote_consoles
from cloud.instances.choices import MigrationStatus
from cloud.instances.lifecycle import instance_transition_start
from cloud.instances.models import Instance, Migration
from cloud.instances.services import image_meta
from cloud.instances.specs import instance_spec
from cloud.instances.states import TaskState, VmState
from cloud.payloads import MigrationTask, RebuildRequest
from cloud.rpc import cast_compute, cast_conductor

if TYPE_CHECKING:
    from cloud.images.models import Image

REBUILD_EVENT = "compute_rebuild_instance"
EVACUATE_EVENT = "conductor_evacuate_instance"


@dataclass(frozen=True)
class Rebuild:
    image_ref: str
    name: str | None = None
    metadata: dict[str, str] | None = None
    description: str | None = None
    set_description: bool = False
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None


def rebuild_image_check(*, image: Image, instance: Instance) -> None:
    """Nova's checks of the new image against the server's flavor (400 otherwise)."""
    if image.status != ImageStatus.ACTIVE:
        raise BadRequest(f"Image {image.id} is not active (status {image.status}).")
    flavor = instance.flavor
    if image.min_ram > flavor["memory_mb"]:
        raise BadRequest(
            f"Flavor's memory is too small for requested image "
            f"({flavor['memory_mb']} MB < {image.min_ram} MB)."
        )
    if flavor["root_gb"] and image.min_disk > flavor["root_gb"]:
        raise BadRequest(
            f"Flavor's disk is too small for requested image "
            f"({flavor['root_gb']} GB < {image.min_disk} GB)."
        )


def _image_find(*, context: RequestContext, image_ref: str) -> Image:
    image = image_get(image_id=image_ref, context=context)
    if image is None:
        raise BadRequest(f"Can not find requested image {image_ref}")
    return image


def _values(rebuild: Rebuild, image: Image) -> dict:
    values: dict = {
        "image_ref": str(image.id),
        "image_meta": image_meta(image),
        "progress": 0,
    }
    if rebuild.name is not None:
        values["display_name"] = rebuild.name
    if rebuild.metadata is not None:
        values["metadata"] = rebuild.metadata
    if rebuild.set_description:
        values["display_description"] = rebuild.description
    if rebuild.access_ip_v4 is not None:
        values["access_ip_v4"] = rebuild.access_ip_v4
    if rebuild.access_ip_v6 is not None:
        values["access_ip_v6"] = rebuild.access_ip_v6
    return values


def _record(*, context: RequestContext, request_id: str, uuid: str, action: str) -> None:
    actions.action_start(
        instance_uuid=uuid,
        action=action,
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )


@transaction.atomic
def server_rebuild(
    *, context: RequestContext, request_id: str, instance: Instance, rebuild: Rebuild
) -> Instance:
    """Start a rebuild on the server's host; the instance as it now is."""
    image = _image_find(context=context, image_ref=rebuild.image_ref)
    if not instance.host:
        raise Conflict(f"Instance {instance.uuid} is not ready")
    if not host_up(host=instance.host):
        raise Conflict(
            f"Cannot 'rebuild' instance {instance.uuid}: its compute host {instance.host} is down"
        )
    rebuild_image_check(image=image, instance=instance)
    if rebuild.metadata is not None:
        quotas.metadata_check(project_id=instance.project_id, items=len(rebuild.metadata))
    instance_transition_start(
        context=context,
        instance=instance,
        action="rebuild",
        method="rebuild",
        values=_values(rebuild, image),
    )
    current = Instance.objects.get(pk=instance.pk)
    uuid = str(current.uuid)
    _record(context=context, request_id=request_id, uuid=uuid, action="rebuild")
    actions.event_start(
        instance_uuid=uuid, request_id=request_id, event=REBUILD_EVENT, host=current.host
    )
    cast_compute(
        current.host,
        "compute.rebuild_instance",
        RebuildRequest(
            instance=instance_spec(current).to_dict(),
            request_id=request_id,
            action="rebuild",
            task_state=TaskState.REBUILDING,
            stopped=current.vm_state == VmState.STOPPED,
        ),
    )
    return current


def _target_check(instance: Instance, host: str) -> None:
    if host == instance.host:
        raise BadRequest("The target host can't be the same one.")
    if node_find(host=host, node=None) is None:
        raise NotFound(f"Compute host {host} could not be found.")


@transaction.atomic
def server_evacuate(
    *, context: RequestContext, request_id: str, instance: Instance, host: str | None
) -> None:
    """Rebuild the server on another host (`host`, or the scheduler's choice; the
    scheduler checks either); only when its own host is down (forced down or silent),
    else 409 as Nova answers."""
    if not instance.host:
        raise Conflict(f"Instance {instance.uuid} is not ready")
    if host_up(host=instance.host):
        raise Conflict(
            f"Compute service of {instance.host} is still in use: "
            f"instance {instance.uuid} can only be evacuated from a host that is down."
        )
    if host is not None:
        _target_check(instance, host)
    instance_transition_start(
        context=context,
        instance=instance,
        action="evacuate",
        method="evacuate",
        values={"progress": 0},
    )
    remote_consoles.server_consoles_revoke(instance=instance)
    uuid = str(instance.uuid)
    migration = Migration.objects.create(
        instance_uuid=instance.uuid,
        project_id=instance.project_id,
        user_id=instance.user_id,
        migration_type="evacuation",
        status=MigrationStatus.PRE_MIGRATING,
        source_compute=instance.host,
        source_node=instance.node or instance.host,
        # The host asked for, until the scheduler confirms it (Nova's dest_compute).
        dest_compute=host,
        old_flavor=instance.flavor,
        new_flavor=instance.flavor,
        old_vm_state=instance.vm_state,
    )
    _record(context=context, request_id=request_id, uuid=uuid, action="evacuate")
    actions.event_start(instance_uuid=uuid, request_id=request_id, event=EVACUATE_EVENT, host=None)
    cast_conductor(
        "conductor.evacuate_instance",
        MigrationTask(migration_uuid=str(migration.uuid), request_id=request_id),
    )
