"""What the volume workers report (conductor.volume_* tasks) and the deadlines of volume
work: every database write on behalf of a volume worker, which has no database.

Reaping (beat's conductor.reap_stuck_builds): a volume, snapshot or attachment left in
a transitional status longer than VOLUME_TASK_DEADLINE (its worker or the compute died
mid-step, or its message expired in a dead worker's queue) is ended, never left there:
creating -> error, deleting -> error_deleting, extending -> error_extending (its size
unchanged), an attaching attachment fails (the volume back to available, or what its
other attachments make it), a detaching one goes back to attached (the volume in-use);
each with a fault saying which step timed out. An error volume can be deleted again.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from cloud.payloads import VolumeBackendReport, VolumeResult
from cloud.volumes import selectors, services
from cloud.volumes.choices import AttachmentStatus, SnapshotStatus, VolumeStatus

log = logging.getLogger(__name__)

VOLUME_ENDS = {
    VolumeStatus.CREATING: VolumeStatus.ERROR,
    VolumeStatus.DELETING: VolumeStatus.ERROR_DELETING,
    VolumeStatus.EXTENDING: VolumeStatus.ERROR_EXTENDING,
}
SNAPSHOT_ENDS = {
    SnapshotStatus.CREATING: SnapshotStatus.ERROR,
    SnapshotStatus.DELETING: SnapshotStatus.ERROR_DELETING,
}


def volume_deleted(*, result: VolumeResult) -> None:
    services.volume_delete_reported(result=result)


def volume_extended(*, result: VolumeResult) -> None:
    services.volume_extend_reported(result=result)


def snapshot_created(*, result: VolumeResult) -> None:
    services.snapshot_create_reported(result=result)


def snapshot_deleted(*, result: VolumeResult) -> None:
    services.snapshot_delete_reported(result=result)


def backend_heartbeat(*, report: VolumeBackendReport) -> None:
    services.backend_reported(
        name=report.backend,
        host=report.host,
        driver=report.driver,
        total_capacity_gb=report.total_capacity_gb,
        free_capacity_gb=report.free_capacity_gb,
        payload_version=report.payload_version,
        started_at=report.started_at,
        sent_at=report.sent_at or timezone.now(),
    )


def _why(step: str, seconds: int, backend: str) -> str:
    return (
        f"Volume step '{step}' timed out after {seconds}s on backend {backend} "
        "(its volume worker did not report)."
    )


def volumes_reap(*, deadline: int) -> int:
    """End the volume work past its deadline; returns how many were ended."""
    before = timezone.now() - timedelta(seconds=deadline)
    reaped = 0
    for volume in selectors.volumes_overdue(statuses=list(VOLUME_ENDS), before=before):
        reaped += services.volume_step_expire(
            volume_id=str(volume.pk),
            status=volume.status,
            to=VOLUME_ENDS[volume.status],
            fault=_why(volume.status, deadline, volume.backend),
        )
    for snapshot in selectors.snapshots_overdue(statuses=list(SNAPSHOT_ENDS), before=before):
        reaped += services.snapshot_step_expire(
            snapshot_id=str(snapshot.pk),
            status=snapshot.status,
            to=SNAPSHOT_ENDS[snapshot.status],
            fault=_why(f"snapshot {snapshot.status}", deadline, snapshot.volume.backend),
        )
    for attachment in selectors.attachments_overdue(
        statuses=[AttachmentStatus.ATTACHING, AttachmentStatus.DETACHING], before=before
    ):
        why = (
            f"Volume {attachment.status[:-3]} to instance {attachment.instance_uuid} on "
            f"{attachment.host or 'no host'} timed out after {deadline}s."
        )
        log.warning("attachment %s: %s", attachment.pk, why)
        if attachment.status == AttachmentStatus.ATTACHING:
            services.attachment_failed(str(attachment.pk), why)
        else:
            services.detach_failed(str(attachment.pk), why)
        reaped += 1
    return reaped
