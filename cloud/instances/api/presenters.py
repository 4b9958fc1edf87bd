"""Response bodies of the compute API, shaped per microversion as Nova shapes them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cloud.api.microversions import APIVersion
from cloud.identity import policy
from cloud.identity.context import RequestContext
from cloud.instances.models import (
    Flavor,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
)
from cloud.instances.states import api_status
from cloud.network.selectors import server_addresses, server_security_groups

if TYPE_CHECKING:
    from cloud.identity.models import KeyPair

PROGRESS_STATUSES = {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _nova_time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def links(base: str, collection: str, item_id: str) -> list[dict]:
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{base}/compute/{collection}/{item_id}"},
    ]


def flavor_summary(flavor: Flavor, base: str, version: APIVersion) -> dict:
    body = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(base, "flavors", flavor.flavorid),
    }
    if version.at_least("2.55"):
        body["description"] = flavor.description
    return body


def flavor_detail(
    flavor: Flavor, base: str, version: APIVersion, *, extra_specs: bool = True
) -> dict:
    """A flavor in full; its extra specs from 2.61 when the caller may list them."""
    body = flavor_summary(flavor, base, version)
    body.update(
        {
            "ram": flavor.memory_mb,
            "disk": flavor.root_gb,
            "vcpus": flavor.vcpus,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
            "OS-FLV-DISABLED:disabled": flavor.disabled,
            "swap": flavor.swap if (flavor.swap or version.at_least("2.75")) else "",
            "rxtx_factor": flavor.rxtx_factor,
            "os-flavor-access:is_public": flavor.is_public,
        }
    )
    if extra_specs and version.at_least("2.61"):
        body["extra_specs"] = flavor.extra_specs
    return body


def flavor_access_body(flavor: Flavor, projects: list[str]) -> dict:
    return {
        "flavor_access": [
            {"flavor_id": flavor.flavorid, "tenant_id": project} for project in projects
        ]
    }


def server_summary(instance: Instance, base: str) -> dict:
    uuid = str(instance.uuid)
    return {"id": uuid, "name": instance.display_name, "links": links(base, "servers", uuid)}


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: the host, hashed with the project so projects cannot compare hosts."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def _host_id(instance: Instance) -> str:
    return host_id(instance.project_id, instance.host)


def _string_map(value) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _flavor(instance: Instance, base: str, version: APIVersion) -> dict:
    flavor = instance.flavor
    if version.at_least("2.47"):
        return {
            "vcpus": flavor.get("vcpus", 0),
            "ram": flavor.get("memory_mb", 0),
            "disk": flavor.get("root_gb", 0),
            "ephemeral": flavor.get("ephemeral_gb", 0),
            "swap": flavor.get("swap", 0),
            "original_name": flavor.get("name", ""),
            "extra_specs": _string_map(flavor.get("extra_specs")),
        }
    # A flavor snapshot missing its keys (an odd row) still lists, with what it has.
    flavorid = str(flavor.get("flavorid", ""))
    return {"id": flavorid, "links": [links(base, "flavors", flavorid)[1]]}


def _fault(fault: InstanceFault, context: RequestContext) -> dict:
    body = {"code": fault.code, "created": _iso(fault.created_at), "message": fault.message}
    if context.is_admin or fault.code != 500:
        body["details"] = fault.details
    return body


def sees_extended_attributes(context: RequestContext, project_id: str, user_id: str) -> bool:
    """Whether the caller may see the host attributes of a server of this owner."""
    target = {"project_id": project_id, "user_id": user_id}
    return policy.allowed(context, "os_compute_api:os-extended-server-attributes", target)


def server_detail(
    instance: Instance,
    base: str,
    version: APIVersion,
    context: RequestContext,
    fault: InstanceFault | None = None,
    host_status: str | None = None,
    server_groups: list[str] | None = None,
    ports: list | None = None,
    volumes: list | None = None,
    extended: bool | None = None,
) -> dict:
    """A server in full; `server_groups` (its group's UUID) is shown from 2.71 by the
    single-server views only, as in Nova, so lists need no extra query. `ports` are the
    server's (cloud.network.selectors.instance_ports, read for a whole page at once):
    its addresses and security groups; `volumes` its volume attachments (read the same
    way, cloud.instances.volume_attach.servers_volumes). `extended`: whether the caller
    may see the extended server attributes (the policy's answer, which a listing asks
    once per owner; asked here when not given)."""
    uuid = str(instance.uuid)
    status = api_status(instance.vm_state, instance.task_state)
    image = (
        {"id": instance.image_ref, "links": [links(base, "images", instance.image_ref)[1]]}
        if instance.image_ref
        else ""
    )
    body = {
        "id": uuid,
        "name": instance.display_name,
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata),
        "hostId": _host_id(instance),
        "image": image,
        "flavor": _flavor(instance, base, version),
        "created": _iso(instance.created_at),
        "updated": _iso(instance.updated_at),
        "addresses": server_addresses(ports or []),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": links(base, "servers", uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": instance.availability_zone or "nova",
        "config_drive": "True" if instance.config_drive else "",
        "key_name": instance.key_name,
        "OS-SRV-USG:launched_at": _nova_time(instance.launched_at),
        "OS-SRV-USG:terminated_at": _nova_time(instance.terminated_at),
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "os-extended-volumes:volumes_attached": volumes_attached(volumes or [], version),
        "security_groups": server_security_groups(ports or []),
    }
    if status in PROGRESS_STATUSES:
        body["progress"] = instance.progress
    if extended is None:
        extended = sees_extended_attributes(context, instance.project_id, instance.user_id)
    if extended:
        body.update(
            {
                "OS-EXT-SRV-ATTR:host": instance.host,
                "OS-EXT-SRV-ATTR:hypervisor_hostname": instance.node,
                "OS-EXT-SRV-ATTR:instance_name": instance.domain_name,
            }
        )
        if version.at_least("2.3"):
            body.update(
                {
                    "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                    "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                    "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                    "OS-EXT-SRV-ATTR:user_data": None,
                }
            )
        if version.at_least("2.16"):
            body["host_status"] = host_status or ""
    if version.at_least("2.9"):
        body["locked"] = instance.locked
    if version.at_least("2.19"):
        body["description"] = instance.display_description
    if version.at_least("2.26"):
        body["tags"] = []
    if version.at_least("2.63"):
        body["trusted_image_certificates"] = None
    if version.at_least("2.71") and server_groups is not None:
        body["server_groups"] = server_groups
    if version.at_least("2.73"):
        body["locked_reason"] = instance.locked_reason
    if version.at_least("2.96"):
        body["pinned_availability_zone"] = None
    if fault is not None and status == "ERROR":
        body["fault"] = _fault(fault, context)
    return body


def _keypair_time(value: datetime | None) -> str | None:
    """Nova's keypair timestamps: naive UTC with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def keypair_summary(keypair: KeyPair, version: APIVersion) -> dict:
    body = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    if version.at_least("2.2"):
        body["type"] = keypair.type
    return body


def keypair_detail(keypair: KeyPair, version: APIVersion) -> dict:
    """GET /os-keypairs/{name}: Nova also shows its row's id and soft-delete columns."""
    return {
        **keypair_summary(keypair, version),
        "user_id": keypair.user_id,
        "id": keypair.id,
        "created_at": _keypair_time(keypair.created_at),
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }


def instance_action_body(action: InstanceAction, with_updated_at: bool) -> dict:
    body = {
        "action": action.action,
        "instance_uuid": str(action.instance_uuid),
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": _nova_time(action.start_time),
        "message": action.message,
    }
    if with_updated_at:
        body["updated_at"] = _nova_time(action.updated_at)
    return body


def instance_action_event_body(
    event: InstanceActionEvent,
    version: APIVersion,
    project_id: str,
    *,
    privileged: bool,
    details: bool,
) -> dict:
    """An event; its traceback and host for the privileged, hostId from 2.62, details
    (2.84) when allowed."""
    body = {
        "event": event.event,
        "start_time": _nova_time(event.start_time),
        "finish_time": _nova_time(event.finish_time),
        "result": event.result,
    }
    if privileged:
        body["traceback"] = event.traceback
    if version.at_least("2.62"):
        body["hostId"] = host_id(project_id, event.host)
        if privileged:
            body["host"] = event.host or ""
    if details:
        body["details"] = event.details
    return body


def migration_body(migration: Migration, flavor_ids: dict[str, int], version: APIVersion) -> dict:
    """os-migrations: `migration_type` from 2.23, `uuid` from 2.59, project and user from
    2.80; flavors by their integer ids."""
    body = {
        "id": migration.pk,
        "instance_uuid": str(migration.instance_uuid),
        "source_compute": migration.source_compute,
        "source_node": migration.source_node,
        "dest_compute": migration.dest_compute,
        "dest_node": migration.dest_node,
        "dest_host": None,
        "status": migration.status,
        "old_instance_type_id": flavor_ids.get(migration.old_flavor.get("flavorid")),
        "new_instance_type_id": flavor_ids.get(migration.new_flavor.get("flavorid")),
        "created_at": _nova_time(migration.created_at),
        "updated_at": _nova_time(migration.updated_at),
    }
    if version.at_least("2.23"):
        body["migration_type"] = migration.migration_type
    if version.at_least("2.59"):
        body["uuid"] = str(migration.uuid)
    if version.at_least("2.80"):
        body["project_id"] = migration.project_id
        body["user_id"] = migration.user_id
    return body


# -- os-volume_attachments ---------------------------------------------------------


def volume_attachment_body(attachment, version: APIVersion) -> dict:
    """One attachment as Nova's show and index answer it: the volume's id as `id`
    before 2.89, the attachment's id and `bdm_uuid` (the same: one record here) from it."""
    body = {}
    if not version.at_least("2.89"):
        body["id"] = str(attachment.volume_id)
    body.update(
        {
            "volumeId": str(attachment.volume_id),
            "serverId": str(attachment.instance_uuid),
            "device": attachment.device or None,
        }
    )
    if version.at_least("2.70"):
        body["tag"] = None
    if version.at_least("2.79"):
        body["delete_on_termination"] = attachment.delete_on_termination
    if version.at_least("2.89"):
        body["attachment_id"] = str(attachment.id)
        body["bdm_uuid"] = str(attachment.id)
    return body


def volume_attachment_created(attachment, version: APIVersion) -> dict:
    """Nova's answer to an attach (the same at every version from 2.1: `id` is the
    volume's), with the device the volume will take."""
    body = {
        "id": str(attachment.volume_id),
        "serverId": str(attachment.instance_uuid),
        "volumeId": str(attachment.volume_id),
        "device": attachment.device or None,
    }
    if version.at_least("2.70"):
        body["tag"] = None
    if version.at_least("2.79"):
        body["delete_on_termination"] = attachment.delete_on_termination
    return body


def volumes_attached(attachments, version: APIVersion) -> list[dict]:
    """A server's `os-extended-volumes:volumes_attached`: each volume's id, and whether
    it goes with the server (2.3)."""
    return [
        {
            "id": str(a.volume_id),
            **(
                {"delete_on_termination": a.delete_on_termination}
                if version.at_least("2.3")
                else {}
            ),
        }
        for a in attachments
    ]
