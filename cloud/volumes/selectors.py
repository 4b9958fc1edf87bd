"""Reads of the block-storage app. A project sees its own volumes and snapshots; an admin
sees any (listing other projects' with all_tenants). Another project's answers None,
which the API turns into 404."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from cloud.api.parsing import uuid_or_none
from cloud.identity.context import RequestContext
from cloud.volumes.models import Volume, VolumeAttachment, VolumeBackend, VolumeSnapshot


def _scoped(rows: QuerySet, context: RequestContext, all_projects: bool = False) -> QuerySet:
    if context.is_admin and all_projects:
        return rows
    return rows.filter(project_id=context.project_id)


def volumes_visible(*, context: RequestContext, all_projects: bool = False) -> QuerySet:
    rows = Volume.objects.select_related("volume_type").prefetch_related("attachments")
    return _scoped(rows, context, all_projects)


def volume_get(*, context: RequestContext, volume_id: str) -> Volume | None:
    pk = uuid_or_none(str(volume_id))
    if pk is None:
        return None
    rows = Volume.objects.select_related("volume_type").prefetch_related("attachments")
    if not context.is_admin:
        rows = rows.filter(project_id=context.project_id)
    return rows.filter(pk=pk).first()


def volume_get_any(*, volume_id: str) -> Volume | None:
    """For the control plane (conductor, reaper): no caller to scope by."""
    pk = uuid_or_none(str(volume_id))
    return Volume.objects.filter(pk=pk).first() if pk else None


def snapshots_visible(*, context: RequestContext, all_projects: bool = False) -> QuerySet:
    return _scoped(VolumeSnapshot.objects.select_related("volume"), context, all_projects)


def snapshot_get(*, context: RequestContext, snapshot_id: str) -> VolumeSnapshot | None:
    pk = uuid_or_none(str(snapshot_id))
    if pk is None:
        return None
    rows = VolumeSnapshot.objects.select_related("volume", "volume__volume_type")
    if not context.is_admin:
        rows = rows.filter(project_id=context.project_id)
    return rows.filter(pk=pk).first()


def attachment_get(*, attachment_id: str) -> VolumeAttachment | None:
    pk = uuid_or_none(str(attachment_id))
    if pk is None:
        return None
    return VolumeAttachment.objects.select_related("volume").filter(pk=pk).first()


def volumes_overdue(*, statuses: list[str], before) -> QuerySet:
    return Volume.objects.filter(status__in=statuses, status_changed_at__lt=before)


def snapshots_overdue(*, statuses: list[str], before) -> QuerySet:
    return VolumeSnapshot.objects.select_related("volume").filter(
        status__in=statuses, status_changed_at__lt=before
    )


def attachments_overdue(*, statuses: list[str], before) -> QuerySet:
    return VolumeAttachment.objects.filter(status__in=statuses, status_changed_at__lt=before)


def backend_is_up(backend: VolumeBackend) -> bool:
    return backend.last_seen >= timezone.now() - timedelta(seconds=settings.SERVICE_DOWN_TIME)


def backends_with_usage() -> list[VolumeBackend]:
    """Each backend with what its volumes take (allocated_gb: their sizes, an extend in
    progress at its new size) and how many it holds (volume_count)."""
    usage = {
        row["backend"]: row
        for row in Volume.objects.values("backend").annotate(
            allocated=Sum(Coalesce("extend_to", "size")), count=Count("id")
        )
    }
    found = []
    for backend in VolumeBackend.objects.all():
        row = usage.get(backend.name, {})
        backend.allocated_gb = row.get("allocated") or 0
        backend.volume_count = row.get("count") or 0
        backend.is_up = backend_is_up(backend)
        found.append(backend)
    return found


def attachments_of_instances(*, instance_uuids: list[str]) -> QuerySet:
    """The attachments of these instances (any status), each with its volume, oldest
    first: one query for a page of servers."""
    return (
        VolumeAttachment.objects.select_related("volume")
        .filter(instance_uuid__any=instance_uuids)
        .order_by("created_at", "id")
    )
