"""Instance writes on behalf of API users: create and delete servers.

Every write that must reach a worker is published on commit (cloud.rpc);
every state change goes through the state machine (cloud.instances.lifecycle)
as a conditional update.
"""

import secrets
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from cloud.api.errors import Conflict
from cloud.hosts.selectors import host_up
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.images.models import Image
from cloud.images.selectors import image_boot_files
from cloud.instances import actions, lifecycle, resize, states
from cloud.instances.models import Flavor, Instance, RequestSpec
from cloud.instances.selectors import instances_live
from cloud.payloads import BuildInstances, TerminateRequest
from cloud.placement.claims import allocations_delete
from cloud.rpc import cast_compute, cast_conductor
from cloud.scheduler import groups
from cloud.scheduler.models import ServerGroup
from cloud.scheduler.selectors import server_group_members


@dataclass(frozen=True)
class ServerCreate:
    name: str
    flavor: Flavor
    image: Image
    min_count: int = 1
    max_count: int = 1
    metadata: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    availability_zone: str | None = None
    key_name: str | None = None
    key_data: str | None = None
    user_data: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    config_drive: bool = False
    # An admin's `zone:host[:node]`, the server group to join, and the
    # same_host / different_host hints (lists of instance UUIDs) and query (JSON text).
    forced_host: str | None = None
    group: ServerGroup | None = None
    hints: dict[str, list[str] | str] = field(default_factory=dict)


def flavor_resources(flavor: dict) -> dict[str, int]:
    """Placement resources a flavor snapshot needs (zero amounts left out)."""
    wanted = {
        "VCPU": flavor["vcpus"],
        "MEMORY_MB": flavor["memory_mb"],
        "DISK_GB": flavor["root_gb"] + flavor["ephemeral_gb"] + (flavor["swap"] + 1023) // 1024,
    }
    return {rc: amount for rc, amount in wanted.items() if amount > 0}


def image_meta(image: Image) -> dict:
    """What an instance keeps of its image (and where its boot files are)."""
    return {
        "id": str(image.id),
        "name": image.name,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "min_disk": image.min_disk,
        "properties": dict(image.properties),
        **image_boot_files(image=image),
    }


def _hostname(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower())
    return cleaned.strip("-")[:63] or "server"


@transaction.atomic
def server_create(
    *, context: RequestContext, request_id: str, spec: ServerCreate
) -> list[Instance]:
    """Write the instances, their request specs and create actions; build on commit.

    The quota check counts the project's live instances under the project's row
    lock, in this transaction: as many of max_count as fit are created (Nova's
    rule), and 403 when not even min_count fit.
    """
    quotas.metadata_check(project_id=context.project_id, items=len(spec.metadata))
    count = quotas.instances_allowed(
        project_id=context.project_id,
        user_id=context.user_id,
        vcpus=spec.flavor.vcpus,
        memory_mb=spec.flavor.memory_mb,
        min_count=spec.min_count,
        max_count=spec.max_count,
    )
    reservation_id = f"r-{secrets.token_hex(4)}"
    flavor = spec.flavor.snapshot()
    instances = []
    for index in range(count):
        name = spec.name if count == 1 else f"{spec.name}-{index + 1}"
        instance = Instance.objects.create(
            display_name=name,
            display_description=spec.description,
            hostname=_hostname(name),
            project_id=context.project_id,
            user_id=context.user_id,
            reservation_id=reservation_id,
            launch_index=index,
            flavor=flavor,
            vcpus=spec.flavor.vcpus,
            memory_mb=spec.flavor.memory_mb,
            image_ref=str(spec.image.id),
            image_meta=image_meta(spec.image),
            key_name=spec.key_name,
            key_data=spec.key_data,
            user_data=spec.user_data,
            metadata=spec.metadata,
            config_drive=spec.config_drive,
            availability_zone=spec.availability_zone,
            access_ip_v4=spec.access_ip_v4,
            access_ip_v6=spec.access_ip_v6,
            **lifecycle.instance_initial_states(),
        )
        RequestSpec.objects.create(
            instance_uuid=instance.uuid,
            project_id=context.project_id,
            user_id=context.user_id,
            resources=flavor_resources(flavor),
            availability_zone=spec.availability_zone,
            forced_host=spec.forced_host,
            group_uuid=spec.group.uuid if spec.group else None,
            hints=spec.hints,
        )
        actions.action_start(
            instance_uuid=str(instance.uuid),
            action="create",
            request_id=request_id,
            user_id=context.user_id,
            project_id=context.project_id,
        )
        instances.append(instance)
    if spec.group is not None:
        _group_join(context=context, group=spec.group, instances=instances)
    cast_conductor(
        "conductor.build_instances",
        BuildInstances(instance_uuids=[str(i.uuid) for i in instances], request_id=request_id),
    )
    return instances


def _group_join(*, context: RequestContext, group: ServerGroup, instances: list[Instance]) -> None:
    """The new instances join their server group, under its row lock, within the members
    the creating user may have in it."""
    locked = groups.server_group_lock(group=group)
    members = server_group_members(group_ids=[locked.pk])[locked.pk]
    groups.group_members_add(
        context=context,
        group=locked,
        instance_uuids=[str(i.uuid) for i in instances],
        used=len(instances_live(uuids=members, user_id=context.user_id)),
    )


def instance_mark_deleted(*, instance: Instance) -> None:
    """Mark a locked instance deleted, free its claim (and its unfinished migrations'),
    and take it out of its server group, in the caller's transaction."""
    now = timezone.now()
    lifecycle.instance_transition(
        instance=instance,
        step="mark_deleted",
        values={"deleted": True, "deleted_at": now, "terminated_at": now},
    )
    allocations_delete(consumer_id=str(instance.uuid))
    groups.group_member_remove(instance_uuid=str(instance.uuid))
    resize.instance_migrations_drop(instance=instance)


@transaction.atomic
def server_delete(*, context: RequestContext, request_id: str, instance: Instance) -> None:
    """Delete on the host when it is up; otherwise (no host yet, host down) locally."""
    locked = Instance.objects.select_for_update().get(pk=instance.pk)
    if locked.deleted:
        return
    if locked.locked and not context.is_admin:
        raise Conflict(f"Instance {locked.uuid} is locked")
    if not states.allowed("delete", locked.vm_state, locked.task_state):
        raise Conflict(
            f"Cannot 'delete' instance {locked.uuid} while it is in task_state {locked.task_state}"
        )
    actions.action_start(
        instance_uuid=str(locked.uuid),
        action="delete",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    if locked.host and host_up(host=locked.host):
        lifecycle.instance_transition(instance=locked, step="delete")
        actions.event_start(
            instance_uuid=str(locked.uuid),
            request_id=request_id,
            event="compute_terminate_instance",
            host=locked.host,
        )
        cast_compute(
            locked.host,
            "compute.terminate_instance",
            TerminateRequest(
                instance_uuid=str(locked.uuid), name=locked.domain_name, request_id=request_id
            ),
        )
        return
    instance_mark_deleted(instance=locked)
    actions.action_finish(instance_uuid=str(locked.uuid), request_id=request_id)
