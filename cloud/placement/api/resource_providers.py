"""Placement API: resource providers (list with filters, create, show, update, delete)."""

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from cloud.placement import services
from cloud.placement.api import presenters, query
from cloud.placement.api.base import PlacementView
from cloud.placement.api.serializers import ProviderCreate, ProviderUpdate
from cloud.placement.models import ResourceProvider
from cloud.placement.selectors import lineage, providers_filter


class _Providers(PlacementView):
    def shown(self, rows: list[ResourceProvider]) -> list[dict]:
        trees = lineage(providers=rows) if self.version.at_least("1.14") else {}
        return [presenters.provider(row, self.version, trees.get(row.pk)) for row in rows]


class ResourceProviderListView(_Providers):
    """GET, POST /resource_providers"""

    def get(self, request):
        self.authorize("placement:resource_providers:list")
        filters = query.provider_filter(request.query_params, self.version)
        self.known(filters)
        rows = list(providers_filter(filters=filters))
        self.last_modified = max((row.updated_at for row in rows), default=None)
        return Response({"resource_providers": self.shown(rows)})

    @extend_schema(request=ProviderCreate)
    def post(self, request):
        self.authorize("placement:resource_providers:create")
        data = self.body(ProviderCreate)
        provider = services.provider_create(
            name=data["name"],
            provider_uuid=data.get("uuid") or str(uuid.uuid4()),
            parent_uuid=data.get("parent_provider_uuid"),
        )
        headers = self.location(presenters.provider_path(provider.uuid))
        if not self.version.at_least("1.20"):
            return Response(status=201, headers=headers)
        self.last_modified = provider.updated_at
        return Response(self.shown([provider])[0], headers=headers)


class ResourceProviderView(_Providers):
    """GET, PUT, DELETE /resource_providers/{uuid}"""

    def get(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:show")
        provider = self.provider(provider_uuid)
        self.last_modified = provider.updated_at
        return Response(self.shown([provider])[0])

    @extend_schema(request=ProviderUpdate)
    def put(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:update")
        provider = self.provider(provider_uuid)
        data = self.body(ProviderUpdate)
        provider = services.provider_update(
            provider=provider,
            name=data["name"],
            parent_uuid=data.get("parent_provider_uuid"),
            set_parent="parent_provider_uuid" in data,
            reparent=self.version.at_least("1.37"),
        )
        self.last_modified = provider.updated_at
        return Response(self.shown([provider])[0])

    def delete(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:delete")
        services.provider_delete(provider=self.provider(provider_uuid))
        return Response(status=204)
