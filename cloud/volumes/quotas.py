"""The block-storage quota counters (live rows, never stored usage) and Cinder's quota
check: volumes and snapshots are counted, gigabytes is the sum of both their sizes
(Cinder's default, no_snapshot_gb_quota = False)."""

from django.db.models import Sum
from django.db.models.functions import Coalesce

from cloud.api.errors import OverLimit
from cloud.identity import quotas


def _messages(resource: str, requested: int, used: int, limit: int) -> str:
    if resource == "gigabytes":
        return (
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"gigabytes quota. Requested {requested}G, quota is {limit}G and {used}G has "
            "been consumed."
        )
    kind = "volumes" if resource == "volumes" else "snapshots"
    return f"Maximum number of {kind} allowed ({limit}) exceeded for quota '{resource}'."


def quota_take(*, project_id: str, user_id: str, deltas: dict[str, int]) -> None:
    """Check that each delta fits, inside the writing transaction and under the
    project's row lock (as compute quotas), so that two creates cannot both take the
    last unit; 413 in Cinder's words when one does not."""
    quotas.lock_project(project_id)
    found = quotas.limits(project_id=project_id, volume=True)
    for resource, delta in deltas.items():
        limit = found[resource]
        if delta <= 0 or limit < 0:
            continue
        used = quotas.usage(resource, project_id=project_id)
        if used + delta > limit:
            raise OverLimit(_messages(resource, delta, used, limit))


def _gigabytes(project_id: str) -> int:
    from cloud.volumes.models import Volume, VolumeSnapshot

    volumes = Volume.objects.filter(project_id=project_id).aggregate(
        s=Sum(Coalesce("extend_to", "size"))
    )["s"]
    snapshots = VolumeSnapshot.objects.filter(project_id=project_id).aggregate(s=Sum("size"))["s"]
    return (volumes or 0) + (snapshots or 0)


def register() -> None:
    from cloud.volumes.models import Volume, VolumeSnapshot

    quotas.register_counter(
        "volumes", lambda project_id, user_id: Volume.objects.filter(project_id=project_id).count()
    )
    quotas.register_counter(
        "snapshots",
        lambda project_id, user_id: VolumeSnapshot.objects.filter(project_id=project_id).count(),
    )
    quotas.register_counter("gigabytes", lambda project_id, user_id: _gigabytes(project_id))
