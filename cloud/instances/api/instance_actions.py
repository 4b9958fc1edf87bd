"""Compute API: a server's actions and their events (`os-instance-actions`), per microversion.

Events are shown to admins with tracebacks and hosts; from 2.51 to the server's
readers too, without them (Nova's rule). `updated_at` and filters from 2.58,
`hostId` from 2.62, `details` from 2.84.
"""

from rest_framework.response import Response

from cloud.api.pagination import next_link, paginate
from cloud.identity.views import ComputeView
from cloud.instances import selectors
from cloud.instances.api.presenters import host_id
from cloud.instances.models import InstanceAction, InstanceActionEvent

RULE = "os_compute_api:os-instance-actions:%s"


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def _action(action: InstanceAction, with_updated_at: bool) -> dict:
    body = {
        "action": action.action,
        "instance_uuid": str(action.instance_uuid),
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": _time(action.start_time),
        "message": action.message,
    }
    if with_updated_at:
        body["updated_at"] = _time(action.updated_at)
    return body


class InstanceActionListView(ComputeView):
    """GET /servers/{id}/os-instance-actions"""

    def get(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "list", {"project_id": instance.project_id})
        current = self.version.at_least("2.58")
        qs = selectors.instance_action_list(instance=instance, params=request.GET, filters=current)
        if current:
            rows, more = paginate(qs, request.GET)
        else:
            rows, more = list(qs), False
        body = {"instanceActions": [_action(a, current) for a in rows]}
        if more:
            body["links"] = next_link(request, rows[-1].request_id)
        return Response(body)


class InstanceActionView(ComputeView):
    """GET /servers/{id}/os-instance-actions/{request_id}"""

    def get(self, request, server_id: str, request_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        target = {"project_id": instance.project_id}
        self.authorize(RULE % "show", target)
        action = selectors.instance_action_get(instance=instance, request_id=request_id)
        body = _action(action, self.version.at_least("2.58"))
        privileged = self.allowed(RULE % "events", target)
        if privileged or self.version.at_least("2.51"):
            details = self.version.at_least("2.84") and self.allowed(
                RULE % "events:details", target
            )
            body["events"] = [
                self._event(e, instance.project_id, privileged, details)
                for e in action.events.all()
            ]
        return Response({"instanceAction": body})

    def _event(
        self, event: InstanceActionEvent, project_id: str, privileged: bool, details: bool
    ) -> dict:
        body = {
            "event": event.event,
            "start_time": _time(event.start_time),
            "finish_time": _time(event.finish_time),
            "result": event.result,
        }
        if privileged:
            body["traceback"] = event.traceback
        if self.version.at_least("2.62"):
            body["hostId"] = host_id(project_id, event.host)
            if privileged:
                body["host"] = event.host or ""
        if details:
            body["details"] = event.details
        return body
