"""Compute API: a server's metadata (Nova's server-metadata): list, merge new items
(POST), replace it whole (PUT), and show, set or delete one item.

Bodies are Nova's: `{"metadata": {...}}`, and `{"meta": {key: value}}` with exactly
the one key of the URL; keys of 1 to 255 letters, digits or "-_:. ", string values
of 255 characters at most. Over the metadata_items quota is 403, a locked or busy
server 409 (cloud.instances.metadata).
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.schema import body
from cloud.identity.views import ComputeView
from cloud.instances import metadata, selectors
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.flavor_bodies import invalid, wrapped
from cloud.instances.extra_specs import KEY, VALUE_MAX_LENGTH
from cloud.instances.models import Instance

RULE = "os_compute_api:server-metadata:%s"


def metadata_parse(items, field: str) -> dict[str, str]:
    if not isinstance(items, dict):
        raise invalid(field, items, f"{items!r} is not of type 'object'")
    for key, value in items.items():
        if not KEY.match(key):
            raise invalid(
                field, items, f"Additional properties are not allowed ({key!r} was unexpected)"
            )
        if not isinstance(value, str):
            raise invalid(f"{field}/{key}", value, f"{value!r} is not of type 'string'")
        if len(value) > VALUE_MAX_LENGTH:
            raise invalid(f"{field}/{key}", value, f"{value!r} is too long")
    return dict(items)


def _target(instance: Instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


class _ServerMetadata(ComputeView):
    def server(self, server_id: str, rule: str) -> Instance:
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % rule, _target(instance))
        return instance


class ServerMetadataView(_ServerMetadata):
    """GET, POST, PUT /servers/{server_id}/metadata"""

    def get(self, request, server_id: str):
        return Response({"metadata": dict(self.server(server_id, "index").metadata)})

    @body(schemas.METADATA_BODY)
    def post(self, request, server_id: str):
        return self._update(request, server_id, "create", replace=False)

    @body(schemas.METADATA_BODY)
    def put(self, request, server_id: str):
        return self._update(request, server_id, "update_all", replace=True)

    def _update(self, request, server_id: str, rule: str, *, replace: bool) -> Response:
        items = metadata_parse(wrapped(request.data, "metadata"), "metadata")
        instance = self.server(server_id, rule)
        updated = metadata.server_metadata_update(
            context=self.context, instance=instance, metadata=items, replace=replace
        )
        return Response({"metadata": updated})


class ServerMetadataItemView(_ServerMetadata):
    """GET, PUT, DELETE /servers/{server_id}/metadata/{key}"""

    def get(self, request, server_id: str, key: str):
        items = self.server(server_id, "show").metadata
        if key not in items:
            raise NotFound("Metadata item was not found")
        return Response({"meta": {key: items[key]}})

    @body(schemas.META_ITEM)
    def put(self, request, server_id: str, key: str):
        item = metadata_parse(wrapped(request.data, "meta"), "meta")
        if len(item) != 1:
            raise invalid("meta", item, "exactly one metadata item is required")
        instance = self.server(server_id, "update")
        if key not in item:
            raise BadRequest("Request body and URI mismatch")
        metadata.server_metadata_update(
            context=self.context, instance=instance, metadata=item, replace=False
        )
        return Response({"meta": item})

    def delete(self, request, server_id: str, key: str):
        instance = self.server(server_id, "delete")
        metadata.server_metadata_delete(context=self.context, instance=instance, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
