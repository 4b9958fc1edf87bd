"""Compute API: os-quota-sets (show, detail, defaults, update, revert) and limits.

Field sets follow the microversion as in Nova: network quotas (fixed_ips,
floating_ips, security_groups, security_group_rules) go at 2.36 and
file-injection quotas at 2.57. Stratus has neither networks nor file
injection yet, so those fields show Nova's defaults and cannot be changed.
"""

from django.db import transaction
from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.microversions import APIVersion
from cloud.identity import quotas
from cloud.identity.models import Project, Quota, User
from cloud.identity.views import ComputeView

QUOTA_MAX = 0x7FFFFFFF
NETWORK_FIELDS = {
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
}
INJECTION_FIELDS = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}


def legacy_fields(version: APIVersion) -> dict[str, int]:
    fields = {}
    if not version.at_least("2.36"):
        fields.update(NETWORK_FIELDS)
    if not version.at_least("2.57"):
        fields.update(INJECTION_FIELDS)
    return fields


def _project(project_id: str) -> Project:
    project = Project.objects.filter(id=project_id).first()
    if project is None:
        raise NotFound(f"Project {project_id} could not be found.")
    return project


def _user_id(request, project: Project) -> str | None:
    user_id = request.GET.get("user_id")
    if user_id is None:
        return None
    if not User.objects.filter(id=user_id).exists():
        raise BadRequest(f"User {user_id} could not be found.")
    return user_id


def _parse_limit(name: str, value) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"Invalid input for field/attribute {name}: {value!r} is not an integer")
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise BadRequest(
            f"Invalid input for field/attribute {name}: {value!r} is not an integer"
        ) from None
    if not -1 <= limit <= QUOTA_MAX:
        raise BadRequest(
            f"Invalid input for field/attribute {name}: {limit} must be between -1 and {QUOTA_MAX}"
        )
    return limit


def _parse_force(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise BadRequest(f"Invalid input for field/attribute force: {value!r} is not a boolean")


class QuotaSetView(ComputeView):
    """GET, PUT, DELETE /os-quota-sets/{tenant_id}[?user_id=]"""

    def _quota_set(self, project: Project, user_id: str | None) -> dict:
        body = {**legacy_fields(self.version)}
        body.update(quotas.limits(project_id=project.id, user_id=user_id))
        return body

    def get(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:show", {"project_id": tenant_id})
        project = _project(tenant_id)
        body = self._quota_set(project, _user_id(request, project))
        return Response({"quota_set": {"id": tenant_id, **body}})

    def put(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:update", {"project_id": tenant_id})
        project = _project(tenant_id)
        user_id = _user_id(request, project)
        data = request.data.get("quota_set") if isinstance(request.data, dict) else None
        if not isinstance(data, dict) or not data:
            raise BadRequest("The request body must be a JSON object with a 'quota_set' object.")
        data = dict(data)
        force = _parse_force(data.pop("force", False))
        wanted = {}
        for name, value in data.items():
            if name in legacy_fields(self.version):
                raise BadRequest(f"Quota {name} cannot be changed: Stratus does not manage it.")
            if name not in quotas.RESOURCES:
                raise BadRequest(f"Bad key(s) {name} in quota_set")
            if user_id and name not in quotas.PER_USER:
                raise BadRequest(f"Quota {name} is per project; it cannot be set for a user.")
            wanted[name] = _parse_limit(name, value)
        with transaction.atomic():
            quotas.lock_project(project.id)
            self._check(project, user_id, wanted, force)
            for name, limit in wanted.items():
                Quota.objects.update_or_create(
                    project=project,
                    user_id=user_id,
                    resource=name,
                    defaults={"hard_limit": limit},
                )
        return Response({"quota_set": self._quota_set(project, user_id)})

    def _check(self, project: Project, user_id: str | None, wanted: dict, force: bool) -> None:
        project_limits = quotas.limits(project_id=project.id)
        for name, limit in wanted.items():
            ceiling = project_limits[name]
            if user_id and ceiling >= 0 and not 0 <= limit <= ceiling:
                raise BadRequest(
                    f"Quota limit {limit} for {name} must be between 0 and "
                    f"{ceiling}, the project's limit."
                )
            if force or limit < 0:
                continue
            used = quotas.usage(name, project_id=project.id, user_id=user_id)
            if limit < used:
                raise BadRequest(
                    f"Quota limit {limit} for {name} must be greater than or equal to "
                    f"already used and reserved {used}."
                )

    def delete(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:delete", {"project_id": tenant_id})
        project = _project(tenant_id)
        user_id = _user_id(request, project)
        rows = Quota.objects.filter(project=project)
        rows = rows.filter(user_id=user_id) if user_id else rows.filter(user__isnull=True)
        rows.delete()
        return Response(status=status.HTTP_202_ACCEPTED)


class QuotaSetDetailView(ComputeView):
    """GET /os-quota-sets/{tenant_id}/detail[?user_id=]: limits with live usage."""

    def get(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:detail", {"project_id": tenant_id})
        project = _project(tenant_id)
        user_id = _user_id(request, project)
        body = {
            name: {"in_use": 0, "limit": limit, "reserved": 0}
            for name, limit in legacy_fields(self.version).items()
        }
        for name, found in quotas.usages(project_id=project.id, user_id=user_id).items():
            body[name] = {"in_use": found.in_use, "limit": found.limit, "reserved": 0}
        return Response({"quota_set": {"id": tenant_id, **body}})


class QuotaSetDefaultsView(ComputeView):
    """GET /os-quota-sets/{tenant_id}/defaults"""

    def get(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:defaults", {"project_id": tenant_id})
        body = {**legacy_fields(self.version), **quotas.defaults()}
        return Response({"quota_set": {"id": tenant_id, **body}})


class LimitsView(ComputeView):
    """GET /limits[?tenant_id=]: the absolute limits and usage of a project."""

    def get(self, request):
        self.authorize("os_compute_api:limits")
        project_id = request.GET.get("tenant_id") or self.context.project_id
        if project_id != self.context.project_id:
            self.authorize("os_compute_api:limits:other_project", {"project_id": project_id})
        if project_id is None:
            raise BadRequest("A project-scoped token or a tenant_id is required.")
        found = quotas.usages(project_id=project_id)
        absolute = {
            "maxServerMeta": found["metadata_items"].limit,
            "maxTotalCores": found["cores"].limit,
            "maxTotalInstances": found["instances"].limit,
            "maxTotalKeypairs": found["key_pairs"].limit,
            "maxTotalRAMSize": found["ram"].limit,
            "maxServerGroups": found["server_groups"].limit,
            "maxServerGroupMembers": found["server_group_members"].limit,
            "totalCoresUsed": found["cores"].in_use,
            "totalInstancesUsed": found["instances"].in_use,
            "totalRAMUsed": found["ram"].in_use,
            "totalServerGroupsUsed": found["server_groups"].in_use,
        }
        if not self.version.at_least("2.36"):
            absolute.update(
                {
                    "maxSecurityGroups": -1,
                    "maxSecurityGroupRules": -1,
                    "maxTotalFloatingIps": -1,
                    "totalSecurityGroupsUsed": 0,
                    "totalFloatingIpsUsed": 0,
                }
            )
        if not self.version.at_least("2.39"):
            absolute["maxImageMeta"] = found["metadata_items"].limit
        if not self.version.at_least("2.57"):
            absolute["maxPersonality"] = INJECTION_FIELDS["injected_files"]
            absolute["maxPersonalitySize"] = INJECTION_FIELDS["injected_file_content_bytes"]
        return Response({"limits": {"rate": [], "absolute": absolute}})
