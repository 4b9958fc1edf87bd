"""Cinder v3 os-quota-sets (show with or without usage, defaults, update, reset), limits,
availability zones, the volume services (the backends' workers) and extensions."""

from django.conf import settings
from rest_framework.response import Response

from cloud.api.errors import NotFound
from cloud.api.schema import body
from cloud.identity import quotas
from cloud.identity.admin_selectors import project_find
from cloud.volumes import selectors
from cloud.volumes.api.body_schemas import QUOTA_SET
from cloud.volumes.api.parsing import boolean
from cloud.volumes.api.presenters import stamp
from cloud.volumes.api.versions import VolumeView


def _project(target: str) -> str:
    if project_find(project_id=target) is None:
        raise NotFound(f"Project {target} could not be found.")
    return target


def _quota_set(project_id: str, usage: bool) -> dict:
    if usage:
        found = {
            name: {"limit": u.limit, "in_use": u.in_use, "reserved": 0, "allocated": 0}
            for name, u in quotas.volume_usages(project_id=project_id).items()
        }
    else:
        found = quotas.limits(project_id=project_id, volume=True)
    return {"quota_set": {"id": project_id, **found}}


class QuotaSetView(VolumeView):
    """GET, PUT, DELETE /os-quota-sets/{target}[?usage=True]"""

    def get(self, request, project_id: str, target: str):
        self.authorize("volume_extension:quotas:show", {"project_id": target})
        usage = boolean(request.GET.get("usage", "false"), "usage")
        return Response(_quota_set(_project(target), usage))

    @body(QUOTA_SET)
    def put(self, request, project_id: str, target: str):
        self.authorize("volume_extension:quotas:update", {"project_id": target})
        data = dict(request.data["quota_set"])
        data.pop("tenant_id", None)
        data.pop("id", None)
        force = boolean(data.pop("force", False), "force")
        found = quotas.volume_quota_set_update(
            project_id=_project(target), requested=data, force=force
        )
        return Response({"quota_set": found})

    def delete(self, request, project_id: str, target: str):
        self.authorize("volume_extension:quotas:delete", {"project_id": target})
        quotas.volume_quota_delete(project_id=_project(target))
        return Response(status=200)


class QuotaDefaultsView(VolumeView):
    def get(self, request, project_id: str, target: str):
        return Response({"quota_set": {"id": target, **quotas.volume_defaults()}})


class LimitsView(VolumeView):
    """GET /limits: the caller's project's absolute limits and usage (Cinder's names)."""

    def get(self, request, project_id: str):
        found = quotas.volume_usages(project_id=self.context.project_id)
        return Response(
            {
                "limits": {
                    "rate": [],
                    "absolute": {
                        "maxTotalVolumes": found["volumes"].limit,
                        "maxTotalSnapshots": found["snapshots"].limit,
                        "maxTotalVolumeGigabytes": found["gigabytes"].limit,
                        "maxTotalBackups": 0,
                        "maxTotalBackupGigabytes": 0,
                        "totalVolumesUsed": found["volumes"].in_use,
                        "totalSnapshotsUsed": found["snapshots"].in_use,
                        "totalGigabytesUsed": found["gigabytes"].in_use,
                        "totalBackupsUsed": 0,
                        "totalBackupGigabytesUsed": 0,
                    },
                }
            }
        )


class AvailabilityZoneView(VolumeView):
    def get(self, request, project_id: str):
        zone = settings.DEFAULT_AVAILABILITY_ZONE
        return Response(
            {"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": True}}]}
        )


class ServiceListView(VolumeView):
    """GET /os-services (admin): one cinder-volume per backend, up while it heartbeats."""

    def get(self, request, project_id: str):
        self.authorize("volume_extension:services:index")
        zone = settings.DEFAULT_AVAILABILITY_ZONE
        return Response(
            {
                "services": [
                    {
                        "binary": "cinder-volume",
                        "host": f"{backend.host}@{backend.name}",
                        "zone": zone,
                        "status": "enabled",
                        "state": "up" if backend.is_up else "down",
                        "updated_at": stamp(backend.last_seen),
                        "disabled_reason": None,
                        "backend_state": "up" if backend.is_up else "down",
                    }
                    for backend in selectors.backends_with_usage()
                ]
            }
        )


class ExtensionListView(VolumeView):
    def get(self, request, project_id: str):
        return Response({"extensions": []})
