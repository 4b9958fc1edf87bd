"""Compute API: os-quota-sets (show, detail, defaults, update, revert) and limits.

Field sets follow the microversion as in Nova: network quotas (fixed_ips,
floating_ips, security_groups, security_group_rules) go at 2.36 and
file-injection quotas at 2.57. Stratus has neither networks nor file
injection yet, so those fields show Nova's defaults and cannot be changed.
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.microversions import APIVersion
from cloud.api.schema import body
from cloud.identity import quotas
from cloud.identity.admin_selectors import project_find, user_find
from cloud.identity.views import ComputeView
from cloud.instances.api import body_schemas as schemas

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


def _project_id(project_id: str) -> str:
    if project_find(project_id=project_id) is None:
        raise NotFound(f"Project {project_id} could not be found.")
    return project_id


def _user_id(request) -> str | None:
    user_id = request.GET.get("user_id")
    if user_id is None:
        return None
    if user_find(user_id=user_id) is None:
        raise BadRequest(f"User {user_id} could not be found.")
    return user_id


def _parse_force(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise BadRequest(f"Invalid input for field/attribute force: {value!r} is not a boolean")


class QuotaSetView(ComputeView):
    """GET, PUT, DELETE /os-quota-sets/{tenant_id}[?user_id=]"""

    def get(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:show", {"project_id": tenant_id})
        project_id = _project_id(tenant_id)
        found = quotas.limits(project_id=project_id, user_id=_user_id(request))
        return Response({"quota_set": {"id": tenant_id, **legacy_fields(self.version), **found}})

    @body(schemas.QUOTA_SET)
    def put(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:update", {"project_id": tenant_id})
        project_id = _project_id(tenant_id)
        user_id = _user_id(request)
        data = request.data.get("quota_set") if isinstance(request.data, dict) else None
        if not isinstance(data, dict) or not data:
            raise BadRequest("The request body must be a JSON object with a 'quota_set' object.")
        data = dict(data)
        force = _parse_force(data.pop("force", False))
        found = quotas.quota_set_update(
            project_id=project_id,
            user_id=user_id,
            requested=data,
            force=force,
            unmanaged=legacy_fields(self.version),
        )
        return Response({"quota_set": {**legacy_fields(self.version), **found}})

    def delete(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:delete", {"project_id": tenant_id})
        project_id = _project_id(tenant_id)
        user_id = _user_id(request)
        quotas.quota_set_delete(project_id=project_id, user_id=user_id)
        return Response(status=status.HTTP_202_ACCEPTED)


class QuotaSetDetailView(ComputeView):
    """GET /os-quota-sets/{tenant_id}/detail[?user_id=]: limits with live usage."""

    def get(self, request, tenant_id: str):
        self.authorize("os_compute_api:os-quota-sets:detail", {"project_id": tenant_id})
        project_id = _project_id(tenant_id)
        user_id = _user_id(request)
        body = {
            name: {"in_use": 0, "limit": limit, "reserved": 0}
            for name, limit in legacy_fields(self.version).items()
        }
        for name, found in quotas.usages(project_id=project_id, user_id=user_id).items():
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
