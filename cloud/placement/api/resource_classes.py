"""Placement API (1.2+): resource classes. The standard ones are read-only; custom ones
(CUSTOM_*) are created with POST, or from 1.7 with a bodiless PUT (201 created, 204
already there); before 1.7 PUT renames one."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from cloud.api.errors import Conflict, NotFound
from cloud.placement import services
from cloud.placement.api.base import PlacementView
from cloud.placement.api.presenters import PREFIX
from cloud.placement.api.serializers import ResourceClass
from cloud.placement.selectors import resource_class_names, resource_classes_unknown


def _path(name: str) -> str:
    return f"{PREFIX}/resource_classes/{name}"


def _shown(name: str) -> dict:
    return {"name": name, "links": [{"rel": "self", "href": _path(name)}]}


class ResourceClassListView(PlacementView):
    """GET, POST /resource_classes"""

    def get(self, request):
        self.since("1.2")
        self.authorize("placement:resource_classes:list")
        return Response({"resource_classes": [_shown(name) for name in resource_class_names()]})

    @extend_schema(request=ResourceClass)
    def post(self, request):
        self.since("1.2")
        self.authorize("placement:resource_classes:create")
        name = self.body(ResourceClass)["name"]
        if not services.resource_class_create(name=name):
            raise Conflict(f"Conflicting resource class already exists: {name}")
        return Response(status=201, headers=self.location(_path(name)))


class ResourceClassView(PlacementView):
    """GET, PUT, DELETE /resource_classes/{name}"""

    def get(self, request, name: str):
        self.since("1.2")
        self.authorize("placement:resource_classes:show")
        if resource_classes_unknown(names=[name]):
            raise NotFound(f"No such resource class {name}.")
        return Response(_shown(name))

    # Before 1.7 the body renames the class; from 1.7 there is none (the name is the path's).
    @extend_schema(request=ResourceClass)
    def put(self, request, name: str):
        self.since("1.2")
        self.authorize("placement:resource_classes:update")
        if not self.version.at_least("1.7"):
            new_name = self.body(ResourceClass)["name"]
            services.resource_class_update(name=name, new_name=new_name)
            return Response(_shown(new_name))
        self.body(ResourceClass, {"name": name})
        created = services.resource_class_create(name=name)
        return Response(status=201 if created else 204, headers=self.location(_path(name)))

    def delete(self, request, name: str):
        self.since("1.2")
        self.authorize("placement:resource_classes:delete")
        services.resource_class_delete(name=name)
        return Response(status=204)
