"""Placement API (1.1+): the aggregates a provider is in. Before 1.19 the body is a bare
list of aggregate UUIDs and writes are not generation-checked; from 1.19 it is an
object with the provider generation, checked and moved on by a write."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from cloud.placement import services
from cloud.placement.api.base import PlacementView
from cloud.placement.api.serializers import ProviderAggregates
from cloud.placement.models import ResourceProvider
from cloud.placement.selectors import aggregates_of


class ProviderAggregatesView(PlacementView):
    """GET, PUT /resource_providers/{uuid}/aggregates"""

    def shown(self, provider: ResourceProvider) -> dict:
        body: dict = {"aggregates": aggregates_of(provider=provider)}
        if self.version.at_least("1.19"):
            body["resource_provider_generation"] = provider.generation
        return body

    def get(self, request, provider_uuid: str):
        self.since("1.1")
        self.authorize("placement:resource_providers:aggregates:list")
        return Response(self.shown(self.provider(provider_uuid)))

    @extend_schema(request=ProviderAggregates)
    def put(self, request, provider_uuid: str):
        self.since("1.1")
        self.authorize("placement:resource_providers:aggregates:update")
        provider = self.provider(provider_uuid)
        if self.version.at_least("1.19"):
            data = self.body(ProviderAggregates)
        else:
            data = self.body(ProviderAggregates, {"aggregates": request.data})
        provider = services.provider_aggregates_set(
            provider=provider,
            generation=data.get("resource_provider_generation"),
            aggregates=data["aggregates"],
        )
        return Response(self.shown(provider))
