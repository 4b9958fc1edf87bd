"""Every block-storage response body, in Cinder's shapes (at the request's microversion)."""

from datetime import datetime

from cloud.api.microversions import APIVersion
from cloud.volumes.models import Volume, VolumeAttachment, VolumeSnapshot, VolumeType


def stamp(value: datetime | None) -> str | None:
    """Cinder's timestamps: naive UTC with microseconds."""
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") if value else None


def _links(base: str, project_id: str, collection: str, row_id: object) -> list[dict]:
    return [
        {"rel": "self", "href": f"{base}/volume/v3/{project_id}/{collection}/{row_id}"},
        {"rel": "bookmark", "href": f"{base}/volume/{project_id}/{collection}/{row_id}"},
    ]


def attachment(row: VolumeAttachment) -> dict:
    return {
        "id": str(row.volume_id),
        "attachment_id": str(row.id),
        "volume_id": str(row.volume_id),
        "server_id": str(row.instance_uuid),
        "host_name": row.host or None,
        "device": row.device,
        "attached_at": stamp(row.updated_at),
    }


def volume_summary(row: Volume, *, base: str) -> dict:
    return {
        "id": str(row.id),
        "name": row.name,
        "links": _links(base, row.project_id, "volumes", row.id),
    }


def volume(
    row: Volume, *, version: APIVersion, admin: bool, base: str, hosts: dict[str, str]
) -> dict:
    """A volume; `hosts` maps backend names to the machines serving them (admin's
    os-vol-host-attr:host, Cinder's host@backend#pool)."""
    body = {
        **volume_summary(row, base=base),
        "status": row.status,
        "size": row.size,
        "availability_zone": row.availability_zone,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "attachments": [attachment(a) for a in row.attachments.all() if a.attached],
        "description": row.description,
        "volume_type": row.volume_type.name,
        "snapshot_id": str(row.snapshot_id) if row.snapshot_id else None,
        "source_volid": None,
        "metadata": row.metadata,
        "user_id": row.user_id,
        "bootable": "true" if row.bootable else "false",
        "encrypted": False,
        "multiattach": row.multiattach,
        "replication_status": None,
        "consistencygroup_id": None,
        "backup_id": None,
        "os-vol-tenant-attr:tenant_id": row.project_id,
    }
    if row.image_metadata:
        body["volume_image_metadata"] = row.image_metadata
    if admin:
        host = hosts.get(row.backend, row.backend)
        body["os-vol-host-attr:host"] = f"{host}@{row.backend}#{row.backend}"
        body["os-vol-mig-status-attr:migstat"] = None
        body["os-vol-mig-status-attr:name_id"] = None
    for since, fields in (
        ("3.13", {"group_id": None}),
        ("3.21", {"provider_id": None}),
        ("3.48", {"service_uuid": None, "shared_targets": False}),
        ("3.61", {"cluster_name": None}),
        ("3.63", {"volume_type_id": str(row.volume_type_id)}),
        ("3.65", {"consumes_quota": True}),
    ):
        if version.at_least(since):
            body.update(fields)
    return body


def snapshot(row: VolumeSnapshot, *, version: APIVersion) -> dict:
    body = {
        "id": str(row.id),
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "size": row.size,
        "volume_id": str(row.volume_id),
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "metadata": row.metadata,
        "os-extended-snapshot-attributes:project_id": row.project_id,
        "os-extended-snapshot-attributes:progress": "100%" if row.status == "available" else "0%",
    }
    for since, fields in (
        ("3.14", {"group_snapshot_id": None}),
        ("3.41", {"user_id": row.user_id}),
        ("3.65", {"consumes_quota": True}),
    ):
        if version.at_least(since):
            body.update(fields)
    return body


def volume_type(row: VolumeType) -> dict:
    return {
        "id": str(row.id),
        "name": row.name,
        "description": row.description,
        "is_public": row.is_public,
        "os-volume-type-access:is_public": row.is_public,
        "extra_specs": row.extra_specs,
        "qos_specs_id": None,
    }
