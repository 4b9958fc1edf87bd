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
from cloud.instances import actions, lifecycle, remote_consoles, resize, scheduling, states
from cloud.instances.boot_volumes import (
    RootVolume,
    is_volume_bdm,
    root_volume_image,
    root_volume_requested,
    root_volume_reserve,
    root_volumes_quota_check,
)
from cloud.instances.models import Flavor, Instance, Migration, RequestSpec
from cloud.instances.selectors import flavor_find, instances_live
from cloud.instances.volume_attach import server_volumes_release
from cloud.network.servers import (
    NicRequest,
    server_nics_resolve,
    server_ports_create,
    server_ports_release,
)
from cloud.payloads import TerminateRequest
from cloud.placement.claims import allocations_delete
from cloud.rpc import cast_compute
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
    # The interfaces asked for, resolved (cloud.network.servers): ports made or taken
    # in the create's transaction.
    nics: list[NicRequest] = field(default_factory=list)
    # Boot from volume (cloud.instances.boot_volumes): the volume is the root disk.
    root_volume: RootVolume | None = None


def flavor_resources(flavor: dict, *, local_root: bool = True) -> dict[str, int]:
    """Placement resources a flavor snapshot needs (zero amounts left out); a server
    booted from a volume claims no root disk on its host."""
    root_gb = flavor["root_gb"] if local_root else 0
    wanted = {
        "VCPU": flavor["vcpus"],
        "MEMORY_MB": flavor["memory_mb"],
        "DISK_GB": root_gb + flavor["ephemeral_gb"] + (flavor["swap"] + 1023) // 1024,
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
    """Write the instances, their request specs and create actions; ask the scheduler on
    commit (its answer goes to the conductor, which builds).

    The quota check counts the project's live instances under the project's row
    lock, in this transaction: as many of max_count as fit are created (Nova's
    rule), and 403 when not even min_count fit. A create of a fixed count is
    checked last, with its own rows counted, so the lock is held only until the
    commit; a 403 then rolls back all it wrote.
    """
    quotas.metadata_check(project_id=context.project_id, items=len(spec.metadata))
    count = spec.max_count
    # A fixed count with no ports to make is checked last (below). Ports take network
    # locks (and their own quota, under the project's lock): those creates lock the
    # project first, in the order the network API takes them.
    check_last = spec.min_count == spec.max_count and not spec.nics
    if not check_last:
        count = quotas.instances_allowed(
            project_id=context.project_id,
            user_id=context.user_id,
            vcpus=spec.flavor.vcpus,
            memory_mb=spec.flavor.memory_mb,
            min_count=spec.min_count,
            max_count=spec.max_count,
        )
    if spec.root_volume is not None:
        # Up front, in Nova's words (403), before the first volume is written.
        root_volumes_quota_check(context=context, root=spec.root_volume, count=count)
    reservation_id = f"r-{secrets.token_hex(4)}"
    flavor = spec.flavor.snapshot()
    pending: list[tuple[RequestSpec, Instance]] = []
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
            image_ref="" if spec.root_volume else str(spec.image.id),
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
        request_spec = RequestSpec.objects.create(
            instance_uuid=instance.uuid,
            # The first attempt: the scheduler is asked below.
            num_attempts=1,
            project_id=context.project_id,
            user_id=context.user_id,
            resources=flavor_resources(flavor, local_root=spec.root_volume is None),
            availability_zone=spec.availability_zone,
            forced_host=spec.forced_host,
            group_uuid=spec.group.uuid if spec.group else None,
            hints=spec.hints,
        )
        server_ports_create(
            context=context,
            instance_uuid=str(instance.uuid),
            hostname=instance.hostname,
            nics=spec.nics,
        )
        if spec.root_volume is not None:
            root_volume_reserve(
                context=context, root=spec.root_volume, instance_uuid=str(instance.uuid)
            )
        action = actions.action_start(
            instance_uuid=str(instance.uuid),
            action="create",
            request_id=request_id,
            user_id=context.user_id,
            project_id=context.project_id,
        )
        actions.event_start(
            instance_uuid=str(instance.uuid),
            request_id=request_id,
            event=scheduling.SCHEDULE_EVENT,
            host=None,
            action=action,
        )
        pending.append((request_spec, instance))
    if spec.group is not None:
        _group_join(context=context, group=spec.group, instances=[i for _, i in pending])
    uuids = [str(i.uuid) for _, i in pending]
    # Straight to the scheduler, whose answer goes to conductor.schedule_done.
    scheduling.instances_ask_scheduler(
        pending,
        request_id,
        undo=lambda: server_create_undo(instance_uuids=uuids, request_id=request_id),
    )
    if check_last:
        # Last, so the project's lock is held from here to the commit only.
        quotas.instances_written_check(
            project_id=context.project_id,
            user_id=context.user_id,
            vcpus=spec.flavor.vcpus,
            memory_mb=spec.flavor.memory_mb,
            count=count,
        )
    return [instance for _, instance in pending]


@transaction.atomic
def server_create_undo(*, instance_uuids: list[str], request_id: str) -> None:
    """The create's build never reached the broker (it was away past the publish
    retries): its servers are deleted, so the client's 503 leaves nothing behind and
    its retry is the only server. One the conductor took meanwhile is left alone."""
    for uuid in instance_uuids:
        instance = Instance.objects.select_for_update().filter(uuid=uuid, deleted=False).first()
        if instance is None or instance.task_state != states.TaskState.SCHEDULING:
            continue
        instance_mark_deleted(instance=instance)
        actions.action_finish(
            instance_uuid=uuid, request_id=request_id, message="Error: message queue unavailable"
        )


@dataclass(frozen=True)
class ServerBoot:
    """A create request as the client named things (by reference), parsed but not checked."""

    name: str
    flavor_ref: str
    image_ref: str | None = None
    block_device_mapping: list[dict] = field(default_factory=list)
    # "none", "auto", or the networks (or ports) asked for.
    networks: str | list[dict] = "none"
    # The security groups (names or ids) the server's new ports get; [] for the default.
    security_groups: list[str] = field(default_factory=list)
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
        if is_volume_bdm(bdm):
            continue
        is_image_root = (
            bdm.get("source_type") == "image"
            and bdm.get("destination_type", "local") == "local"
            and str(bdm.get("boot_index")) == "0"
        )
        if not is_image_root:
            raise BadRequest(
                "Only a local root disk from an image, or a root volume, is supported in "
                "block_device_mapping_v2."
            )
        image_ref = image_ref or bdm.get("uuid")
        if bdm.get("uuid") and bdm["uuid"] != image_ref:
            raise BadRequest("block_device_mapping_v2 names a different image than imageRef.")
    if not image_ref:
        raise BadRequest("imageRef is required unless a root volume is given (boot_index 0).")
    return image_ref


def _boot_image(*, context: RequestContext, boot: ServerBoot, root: RootVolume | None) -> Image:
    if root is not None:
        # Each server gets a volume of its own from an image; an existing one is one.
        if boot.max_count > 1 and root.image_id is None:
            raise BadRequest("Cannot attach one or more volumes to multiple instances")
        return root_volume_image(context=context, root=root, image_ref=boot.image_ref or "")
    image_ref = _boot_image_ref(boot)
    image = image_get(image_id=image_ref, context=context)
    if image is None:
        raise BadRequest(f"Can not find requested image {image_ref}")
    if image.status != ImageStatus.ACTIVE:
        raise BadRequest(f"Image {image_ref} is not active (status {image.status}).")
    return image


def _boot_flavor(
    *, context: RequestContext, flavor_ref: str, image: Image, local_root: bool = True
) -> Flavor:
    """An enabled flavor the caller may use, large enough for the image (its root disk
    only when the image goes on it: not when a volume is the root)."""
    flavor = flavor_find(flavor_id=flavor_ref, context=context)
    if flavor is None or flavor.disabled:
        raise BadRequest(f"Flavor {flavor_ref} could not be found.")
    if image.min_ram > flavor.memory_mb:
        raise BadRequest(
            f"Flavor's memory is too small for requested image "
            f"({flavor.memory_mb} MB < {image.min_ram} MB)."
        )
    if not local_root:
        return flavor
    if flavor.root_gb and image.min_disk > flavor.root_gb:
        raise BadRequest(
            f"Flavor's disk is too small for requested image "
            f"({flavor.root_gb} GB < {image.min_disk} GB)."
        )
    # Nova's FlavorDiskSmallerThanImage: the root disk holds the image's data and grows
    # to the flavor's size, never below the image's own (a disk=0 flavor takes that).
    root_bytes = flavor.root_gb * 1024**3
    for image_bytes in (image.size, image.virtual_size):
        if flavor.root_gb and image_bytes and image_bytes > root_bytes:
            raise BadRequest(
                f"Flavor's disk is too small for requested image. Flavor disk is "
                f"{root_bytes} bytes, image is {image_bytes} bytes."
            )
    return flavor


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


def _boot_hint_servers_check(*, context: RequestContext, hints: dict) -> None:
    """The servers named by same_host / different_host must be the caller's (any, for an
    admin) and not deleted: another project's answers as an unknown one does, so a hint
    tells nobody whether a server exists, nor places theirs beside it."""
    for hint in ("same_host", "different_host"):
        named = list(hints.get(hint, []))
        if not named:
            continue
        visible = Instance.objects.filter(uuid__in=named, deleted=False)
        if not context.is_admin:
            visible = visible.filter(project_id=context.project_id)
        found = {str(uuid) for uuid in visible.values_list("uuid", flat=True)}
        for uuid in named:
            if uuid not in found:
                raise BadRequest(
                    f"Invalid input for field/attribute {hint}: instance {uuid} could not be found."
                )


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
    root = root_volume_requested(boot.block_device_mapping)
    image = _boot_image(context=context, boot=boot, root=root)
    flavor = _boot_flavor(
        context=context, flavor_ref=boot.flavor_ref, image=image, local_root=root is None
    )
    nics = server_nics_resolve(
        context=context,
        networks=boot.networks,
        max_count=boot.max_count,
        security_groups=boot.security_groups,
    )
    forced_host = _boot_forced_host(boot)
    group = _boot_group(context=context, group_id=boot.group_id)
    _boot_hint_servers_check(context=context, hints=boot.hints)
    key_data = _boot_key_data(context=context, key_name=boot.key_name)
    return server_create(
        context=context,
        request_id=request_id,
        spec=ServerCreate(
            name=boot.name,
            flavor=flavor,
            image=image,
            root_volume=root,
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
            nics=nics,
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
    take it out of its server group, and release its ports and volumes, in the caller's
    transaction."""
    now = timezone.now()
    lifecycle.instance_transition(
        instance=instance,
        step="mark_deleted",
        values={"deleted": True, "deleted_at": now, "terminated_at": now},
    )
    allocations_delete(consumer_id=str(instance.uuid))
    groups.group_member_remove(instance_uuid=str(instance.uuid))
    resize.instance_migrations_drop(instance=instance)
    remote_consoles.server_consoles_revoke(instance=instance)
    server_ports_release(instance_uuid=str(instance.uuid))
    server_volumes_release(instance=instance)


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
    action = actions.action_start(
        instance_uuid=str(locked.uuid),
        action="delete",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    remote_consoles.server_consoles_revoke(instance=locked)
    if locked.host and host_up(host=locked.host):
        lifecycle.instance_transition(instance=locked, step="delete")
        actions.event_start(
            instance_uuid=str(locked.uuid),
            request_id=request_id,
            event="compute_terminate_instance",
            host=locked.host,
            action=action,
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
