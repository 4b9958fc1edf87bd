"""Instance writes on behalf of API users: create and delete servers; and the columns
the conductor writes beside the states (an instance's host or progress, its request
spec's attempts and alternates, a migration's status and destination).

Every write that must reach a worker is published on commit (cloud.rpc);
every state change goes through the state machine (cloud.instances.lifecycle)
as a conditional update.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from cloud.api.errors import BadRequest, Conflict
from cloud.hosts.selectors import host_up, node_find, zone_names
from cloud.identity import keypairs, quotas
from cloud.identity.context import RequestContext
from cloud.images.choices import ImageStatus
from cloud.images.selectors import image_boot_files, image_get
from cloud.instances import actions, lifecycle, resize, states
from cloud.instances.models import Flavor, Instance, Migration, RequestSpec
from cloud.instances.selectors import instances_live
from cloud.payloads import BuildInstances, TerminateRequest
from cloud.placement.claims import allocations_delete
from cloud.rpc import cast_compute, cast_conductor
from cloud.scheduler import groups
from cloud.scheduler.selectors import server_group_find, server_group_members

if TYPE_CHECKING:
    from cloud.images.models import Image
    from cloud.scheduler.models import ServerGroup


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


@dataclass(frozen=True)
class ServerBoot:
    """A create request as the client named things (by reference), parsed but not checked."""

    name: str
    flavor_ref: str
    image_ref: str | None = None
    block_device_mapping: list[dict] = field(default_factory=list)
    # "none", "auto", or the networks (or ports) asked for.
    networks: str | list[dict] = "none"
    key_name: str | None = None
    availability_zone: str | None = None
    # The host and/or node of an admin's `zone:host[:node]`: the caller authorized forcing it.
    host: str | None = None
    node: str | None = None
    group_id: str | None = None
    hints: dict[str, list[str] | str] = field(default_factory=dict)
    min_count: int = 1
    max_count: int = 1
    metadata: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    user_data: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    config_drive: bool = False


def _boot_image_ref(boot: ServerBoot) -> str:
    """The image of the root disk: imageRef, or a local image root in block_device_mapping_v2."""
    image_ref = boot.image_ref
    for bdm in boot.block_device_mapping:
        is_image_root = (
            bdm.get("source_type") == "image"
            and bdm.get("destination_type", "local") == "local"
            and str(bdm.get("boot_index")) == "0"
        )
        if not is_image_root:
            raise BadRequest(
                "Only a local root disk from an image is supported in "
                "block_device_mapping_v2; volumes are not available yet."
            )
        image_ref = image_ref or bdm.get("uuid")
        if bdm.get("uuid") and bdm["uuid"] != image_ref:
            raise BadRequest("block_device_mapping_v2 names a different image than imageRef.")
    if not image_ref:
        raise BadRequest("imageRef is required: boot from volume is not available yet.")
    return image_ref


def _boot_image(*, context: RequestContext, boot: ServerBoot) -> Image:
    image_ref = _boot_image_ref(boot)
    image = image_get(image_id=image_ref, context=context)
    if image is None:
        raise BadRequest(f"Can not find requested image {image_ref}")
    if image.status != ImageStatus.ACTIVE:
        raise BadRequest(f"Image {image_ref} is not active (status {image.status}).")
    return image


def _boot_flavor(*, context: RequestContext, flavor_ref: str, image: Image) -> Flavor:
    """An enabled flavor the caller may use, large enough for the image."""
    flavor = Flavor.objects.filter(flavorid=flavor_ref, disabled=False).first()
    if flavor is None or (not flavor.is_public and not context.is_admin):
        raise BadRequest(f"Flavor {flavor_ref} could not be found.")
    if image.min_ram > flavor.memory_mb:
        raise BadRequest(
            f"Flavor's memory is too small for requested image "
            f"({flavor.memory_mb} MB < {image.min_ram} MB)."
        )
    if flavor.root_gb and image.min_disk > flavor.root_gb:
        raise BadRequest(
            f"Flavor's disk is too small for requested image "
            f"({flavor.root_gb} GB < {image.min_disk} GB)."
        )
    return flavor


def _boot_networks_check(networks: str | list[dict]) -> None:
    """There are no networks yet: "none" and "auto" (which finds none) boot; any named fails."""
    if isinstance(networks, list) and networks:
        ids = ", ".join(str(n.get("uuid") or n.get("port")) for n in networks)
        raise BadRequest(f"Network {ids} could not be found.")


def _boot_forced_host(boot: ServerBoot) -> str | None:
    forced = None
    if boot.host or boot.node:
        found = node_find(host=boot.host, node=boot.node)
        if found is None:
            named = ":".join(p for p in (boot.host, boot.node) if p)
            raise BadRequest(f"Compute host {named} not found.")
        forced = found.host
    if boot.availability_zone and boot.availability_zone not in zone_names():
        raise BadRequest("The requested availability zone is not available")
    return forced


def _boot_group(*, context: RequestContext, group_id: str | None) -> ServerGroup | None:
    if group_id is None:
        return None
    group = server_group_find(group_id=group_id, context=context)
    if group is None:
        raise BadRequest(f"Instance group {group_id} could not be found.")
    return group


def _boot_key_data(*, context: RequestContext, key_name: str | None) -> str | None:
    if key_name is None:
        return None
    try:
        return keypairs.keypair_get(user_id=context.user_id, name=key_name).public_key
    except keypairs.KeypairNotFound:
        raise BadRequest("Invalid key_name provided.") from None


def server_boot(*, context: RequestContext, request_id: str, boot: ServerBoot) -> list[Instance]:
    """POST /servers: find and check what the request names (the image and its status, the
    flavor and its size, networks, the host, zone and group, the key pair), 400 in Nova's
    words for any that cannot be used; then create the servers (server_create)."""
    image = _boot_image(context=context, boot=boot)
    flavor = _boot_flavor(context=context, flavor_ref=boot.flavor_ref, image=image)
    _boot_networks_check(boot.networks)
    forced_host = _boot_forced_host(boot)
    group = _boot_group(context=context, group_id=boot.group_id)
    key_data = _boot_key_data(context=context, key_name=boot.key_name)
    return server_create(
        context=context,
        request_id=request_id,
        spec=ServerCreate(
            name=boot.name,
            flavor=flavor,
            image=image,
            min_count=boot.min_count,
            max_count=boot.max_count,
            metadata=boot.metadata,
            description=boot.description,
            availability_zone=boot.availability_zone,
            forced_host=forced_host,
            group=group,
            hints=boot.hints,
            user_data=boot.user_data,
            access_ip_v4=boot.access_ip_v4,
            access_ip_v6=boot.access_ip_v6,
            config_drive=boot.config_drive,
            key_name=boot.key_name,
            key_data=key_data,
        ),
    )


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


# -- the conductor's writes beside the states -------------------------------------------


def instance_update(*, instance: Instance, **values: Any) -> None:
    """Write columns of an instance other than its states (host and node, progress, its
    flavor's size) in one UPDATE, and to the object, which the caller goes on using. The
    states are written by cloud.instances.lifecycle."""
    if lifecycle.STATE_FIELDS & set(values):
        raise ValueError("the states are written by cloud.instances.lifecycle")
    values = {**values, "updated_at": timezone.now()}
    Instance.objects.filter(pk=instance.pk).update(**values)
    for name, value in values.items():
        setattr(instance, name, value)


def request_spec_update(*, request_spec: RequestSpec, **values: Any) -> None:
    """Write these columns of a request spec the caller holds locked, in one UPDATE,
    and to the object, which the caller goes on reading."""
    for name, value in values.items():
        setattr(request_spec, name, value)
    request_spec.save(update_fields=[*values, "updated_at"])


def request_spec_alternates_set(*, instance_uuid: str, alternates: list[str]) -> None:
    """Record the hosts the scheduler ranked next (where a failed build is retried
    first), with no read of the spec."""
    RequestSpec.objects.filter(instance_uuid=instance_uuid).update(
        alternates=list(alternates), updated_at=timezone.now()
    )


def request_spec_flavor_set(*, instance_uuid: str, flavor: dict) -> None:
    """The instance's later moves ask the scheduler for this flavor (a confirmed resize's)."""
    RequestSpec.objects.filter(instance_uuid=instance_uuid).update(
        resources=flavor_resources(flavor), updated_at=timezone.now()
    )


def migration_update(*, migration: Migration, **values: Any) -> None:
    """Write these columns of a migration the caller holds locked (its status, its
    destination) in one UPDATE, and to the object."""
    values = {**values, "updated_at": timezone.now()}
    Migration.objects.filter(pk=migration.pk).update(**values)
    for name, value in values.items():
        setattr(migration, name, value)
