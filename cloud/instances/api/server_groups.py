"""Compute API: os-server-groups (list, create, show, delete).

Shapes follow the microversion as in Nova: `policies` (a one-item list) and an
always-empty `metadata` before 2.64, `policy` and `rules` from it; project_id
and user_id from 2.13; soft policies from 2.15; unknown query parameters are
refused from 2.75. Another project's group answers 404, like an unknown id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound, flatten_detail
from cloud.api.parsing import parse_int
from cloud.api.schema import body
from cloud.identity.views import ComputeView
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.serializers import ServerGroupSerializer
from cloud.scheduler import groups
from cloud.scheduler.selectors import (
    server_group_find,
    server_group_members,
    server_group_visible,
)

if TYPE_CHECKING:
    from cloud.scheduler.models import ServerGroup

RULE = "os_compute_api:os-server-groups:%s"
QUERY = {"all_projects", "limit", "offset"}


def _count(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    return parse_int(raw, name=name, minimum=0)


class _ServerGroupView(ComputeView):
    def body(self, group: ServerGroup, members: list[str]) -> dict:
        body: dict = {"id": str(group.uuid), "name": group.name}
        if self.version.at_least("2.64"):
            body.update({"policy": group.policy, "rules": dict(group.rules)})
        else:
            body.update({"policies": [group.policy], "metadata": {}})
        body["members"] = members
        if self.version.at_least("2.13"):
            body.update({"project_id": group.project_id, "user_id": group.user_id})
        return body

    def reply(self, group: ServerGroup, **kwargs) -> Response:
        members = server_group_members(group_ids=[group.pk])[group.pk]
        return Response({"server_group": self.body(group, members)}, **kwargs)

    def lookup(self, group_id: str) -> ServerGroup:
        group = server_group_find(group_id=group_id, context=self.context)
        if group is None:
            raise NotFound(f"Instance group {group_id} could not be found.")
        return group


class ServerGroupListView(_ServerGroupView):
    """GET /os-server-groups[?all_projects&limit&offset], POST /os-server-groups"""

    def get(self, request):
        self.authorize(RULE % "index")
        if self.version.at_least("2.75"):
            unknown = sorted(set(request.GET) - QUERY)
            if unknown:
                raise BadRequest(
                    f"Invalid input for query parameters: {', '.join(unknown)} not allowed."
                )
        found = server_group_visible(context=self.context)
        if "all_projects" in request.GET:
            self.authorize(RULE % "index:all_projects")
        else:
            found = found.filter(project_id=self.context.project_id)
        offset = _count(request.GET, "offset", 0)
        limit = min(
            _count(request.GET, "limit", settings.API_LIST_MAX_LIMIT),
            settings.API_LIST_MAX_LIMIT,
        )
        page = list(found[offset : offset + limit])
        members = server_group_members(group_ids=[g.pk for g in page])
        return Response({"server_groups": [self.body(g, members[g.pk]) for g in page]})

    @body(schemas.SERVER_GROUP)
    def post(self, request):
        self.authorize(RULE % "create")
        data = request.data
        if not isinstance(data, dict) or set(data) != {"server_group"}:
            raise BadRequest("The request body must be a JSON object with a 'server_group' object.")
        serializer = ServerGroupSerializer(data=data["server_group"], version=self.version)
        if not serializer.is_valid():
            raise BadRequest(f"Invalid input for server_group: {flatten_detail(serializer.errors)}")
        attrs = serializer.validated_data
        group = groups.server_group_create(
            context=self.context, name=attrs["name"], policy=attrs["policy"], rules=attrs["rules"]
        )
        return Response({"server_group": self.body(group, [])})


class ServerGroupView(_ServerGroupView):
    """GET, DELETE /os-server-groups/{id}"""

    def get(self, request, group_id: str):
        group = self.lookup(group_id)
        self.authorize(RULE % "show", {"project_id": group.project_id})
        return self.reply(group)

    def delete(self, request, group_id: str):
        group = self.lookup(group_id)
        self.authorize(RULE % "delete", {"project_id": group.project_id})
        groups.server_group_delete(group=group)
        return Response(status=status.HTTP_204_NO_CONTENT)
