"""Cinder v3 volume types and their extra specs. Anyone lists and shows the public
ones (an admin: all); only an admin creates, changes or deletes them."""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.schema import body
from cloud.volumes import types
from cloud.volumes.api import body_schemas as schemas
from cloud.volumes.api import presenters
from cloud.volumes.api.parsing import boolean
from cloud.volumes.api.versions import VolumeView

MANAGE = "volume_extension:types_manage"


class _Types(VolumeView):
    def found(self, type_id: str):
        if type_id == "default":
            return types.volume_type_default()
        row = types.volume_type_find(context=self.context, name_or_id=type_id)
        # By id only, as Cinder (a name in the URL is a 404; the client then lists).
        if row is None or str(row.pk) != type_id.lower():
            raise NotFound(f"Volume type {type_id} could not be found.")
        return row


def _public_flag(given: dict):
    for key in ("os-volume-type-access:is_public", "is_public"):
        if key in given:
            return boolean(given[key], key)
    return None


class TypeListView(_Types):
    def get(self, request, project_id: str):
        rows = types.volume_types_visible(context=self.context)
        raw = request.GET.get("is_public")
        if raw is not None and raw.lower() != "none":
            rows = rows.filter(is_public=boolean(raw, "is_public"))
        if "name" in request.GET:
            rows = rows.filter(name=request.GET["name"])
        return Response({"volume_types": [presenters.volume_type(row) for row in rows]})

    @body(schemas.TYPE_CREATE)
    def post(self, request, project_id: str):
        self.authorize(MANAGE)
        given = request.data["volume_type"]
        public = _public_flag(given)
        row = types.volume_type_create(
            name=given["name"],
            description=given.get("description") or "",
            is_public=True if public is None else public,
            extra_specs=given.get("extra_specs"),
        )
        return Response({"volume_type": presenters.volume_type(row)})


class TypeView(_Types):
    def get(self, request, project_id: str, type_id: str):
        return Response({"volume_type": presenters.volume_type(self.found(type_id))})

    @body(schemas.TYPE_UPDATE)
    def put(self, request, project_id: str, type_id: str):
        self.authorize(MANAGE)
        given = request.data["volume_type"]
        row = types.volume_type_update(
            kind=self.found(type_id),
            name=given.get("name"),
            description=given.get("description"),
            is_public=_public_flag(given),
        )
        return Response({"volume_type": presenters.volume_type(row)})

    def delete(self, request, project_id: str, type_id: str):
        self.authorize(MANAGE)
        types.volume_type_delete(kind=self.found(type_id))
        return Response(status=status.HTTP_202_ACCEPTED)


class TypeSpecsView(_Types):
    def get(self, request, project_id: str, type_id: str):
        return Response({"extra_specs": self.found(type_id).extra_specs})

    @body(schemas.EXTRA_SPECS)
    def post(self, request, project_id: str, type_id: str):
        self.authorize(MANAGE)
        found = types.volume_type_specs_set(
            kind=self.found(type_id), specs=request.data["extra_specs"]
        )
        return Response({"extra_specs": found})


class TypeSpecView(_Types):
    def get(self, request, project_id: str, type_id: str, key: str):
        specs = self.found(type_id).extra_specs
        if key not in specs:
            raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
        return Response({key: specs[key]})

    @body(schemas.EXTRA_SPEC)
    def put(self, request, project_id: str, type_id: str, key: str):
        self.authorize(MANAGE)
        data = request.data
        if list(data) != [key]:
            raise BadRequest(
                "Malformed request body: the body must hold exactly the key of the URL."
            )
        types.volume_type_specs_set(kind=self.found(type_id), specs=data)
        return Response(data)

    def delete(self, request, project_id: str, type_id: str, key: str):
        self.authorize(MANAGE)
        types.volume_type_spec_delete(kind=self.found(type_id), key=key)
        return Response(status=status.HTTP_202_ACCEPTED)
