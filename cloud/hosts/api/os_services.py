"""Compute API: os-services (list; enable, disable with a reason, force down).

Each compute host is one `nova-compute` service. From 2.53 a service is
updated by its UUID; before, by host and binary on the action URLs.
"""

from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.parsing import to_uuid
from cloud.api.schema import body
from cloud.hosts.api import body_schemas as schemas
from cloud.hosts.api.presenters import BINARY, service_body
from cloud.hosts.models import ComputeNode
from cloud.hosts.services import compute_service_update
from cloud.identity.views import ComputeView

ACTIONS = ("enable", "disable", "disable-log-reason", "force-down")


def _bool(body: dict, key: str) -> bool:
    value = body[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest(f"Invalid input for field/attribute {key}: {value!r} is not a boolean")


def _object(request) -> dict:
    if not isinstance(request.data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return request.data


class ServiceListView(ComputeView):
    """GET /os-services[?host=&binary=]"""

    def get(self, request):
        self.authorize("os_compute_api:os-services:list")
        nodes = ComputeNode.objects.all()
        if request.GET.get("host"):
            nodes = nodes.filter(host=request.GET["host"])
        if request.GET.get("binary") not in (None, "", BINARY):
            nodes = nodes.none()
        return Response({"services": [service_body(n, self.version) for n in nodes]})


class ServiceView(ComputeView):
    """PUT /os-services/{service_id} (2.53+) and PUT /os-services/{action} (before)."""

    @body(schemas.SERVICE_UPDATE)
    def put(self, request, service_id: str):
        self.authorize("os_compute_api:os-services:update")
        body = _object(request)
        if self.version.at_least("2.53"):
            return self._update(service_id, body)
        if service_id not in ACTIONS:
            raise NotFound(f"Unknown action {service_id}.")
        return self._action(service_id, body)

    def _update(self, service_id: str, body: dict) -> Response:
        node = ComputeNode.objects.filter(uuid=to_uuid(service_id, name="service_id")).first()
        if node is None:
            raise NotFound(f"Service {service_id} could not be found.")
        unknown = set(body) - {"status", "disabled_reason", "forced_down"}
        if unknown or not body:
            raise BadRequest(
                "Expected one or more of status, disabled_reason and forced_down"
                + (f"; unexpected {', '.join(sorted(unknown))}" if unknown else "")
            )
        status = body.get("status")
        if status not in (None, "enabled", "disabled"):
            raise BadRequest(f"Invalid status {status!r}: expected 'enabled' or 'disabled'.")
        reason = body.get("disabled_reason")
        if reason is not None and status != "disabled":
            raise BadRequest("Specifying 'disabled_reason' with status other than 'disabled'.")
        if reason is not None and (not isinstance(reason, str) or not 1 <= len(reason) <= 255):
            raise BadRequest("disabled_reason must be a string of 1 to 255 characters.")
        node = compute_service_update(
            node=node,
            disabled=None if status is None else status == "disabled",
            disabled_reason=reason,
            forced_down=_bool(body, "forced_down") if "forced_down" in body else None,
        )
        return Response({"service": service_body(node, self.version)})

    def _action(self, action: str, body: dict) -> Response:
        host, binary = body.get("host"), body.get("binary")
        if not isinstance(host, str) or not isinstance(binary, str):
            raise BadRequest("host and binary are required.")
        node = ComputeNode.objects.filter(host=host).first() if binary == BINARY else None
        if node is None:
            raise NotFound(f"Service {binary} on host {host} could not be found.")
        reply = {"host": host, "binary": binary}
        if action == "force-down":
            if not self.version.at_least("2.11"):
                raise NotFound("force-down needs microversion 2.11 or later.")
            if "forced_down" not in body:
                raise BadRequest("forced_down is required.")
            node = compute_service_update(node=node, forced_down=_bool(body, "forced_down"))
            return Response({"service": {**reply, "forced_down": node.forced_down}})
        reason = body.get("disabled_reason") if action == "disable-log-reason" else None
        if action == "disable-log-reason" and not isinstance(reason, str):
            raise BadRequest("disabled_reason is required.")
        node = compute_service_update(
            node=node, disabled=action != "enable", disabled_reason=reason
        )
        reply["status"] = "disabled" if node.disabled else "enabled"
        if reason is not None:
            reply["disabled_reason"] = reason
        return Response({"service": reply})
