"""Compute API: a server's actions and their events (`os-instance-actions`), per microversion.

Events are shown to admins with tracebacks and hosts; from 2.51 to the server's
readers too, without them (Nova's rule). `updated_at` and filters from 2.58,
`hostId` from 2.62, `details` from 2.84.
"""

from rest_framework.response import Response

from cloud.api.pagination import next_link, paginate
from cloud.identity.views import ComputeView
from cloud.instances import selectors
from cloud.instances.api.presenters import instance_action_body, instance_action_event_body

RULE = "os_compute_api:os-instance-actions:%s"


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
        body = {"instanceActions": [instance_action_body(a, current) for a in rows]}
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
        body = instance_action_body(action, self.version.at_least("2.58"))
        privileged = self.allowed(RULE % "events", target)
        if privileged or self.version.at_least("2.51"):
            details = self.version.at_least("2.84") and self.allowed(
                RULE % "events:details", target
            )
            body["events"] = [
                instance_action_event_body(
                    e, self.version, instance.project_id, privileged=privileged, details=details
                )
                for e in action.events.all()
            ]
        return Response({"instanceAction": body})
