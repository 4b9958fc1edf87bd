"""Placement API: a provider's inventories, all at once (list, replace, delete all from
1.5, add one) and one class at a time (show, update, delete)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from cloud.api.errors import NotFound
from cloud.placement import services
from cloud.placement.api import presenters
from cloud.placement.api.base import PlacementView
from cloud.placement.api.serializers import Inventories, InventoryCreate, InventoryUpdate
from cloud.placement.claims import InventorySpec
from cloud.placement.models import ResourceProvider
from cloud.placement.selectors import inventories_of

SPEC_FIELDS = presenters.INVENTORY_FIELDS


def _spec(data: dict) -> InventorySpec:
    return InventorySpec(**{field: data[field] for field in SPEC_FIELDS})


def _rows(provider: ResourceProvider) -> list:
    return inventories_of(provider_ids=[provider.pk]).get(provider.pk, [])


class InventoryListView(PlacementView):
    """GET, PUT, POST, DELETE /resource_providers/{uuid}/inventories"""

    def get(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:inventories:list")
        provider = self.provider(provider_uuid)
        return Response(presenters.inventories(_rows(provider), provider.generation))

    @extend_schema(request=Inventories)
    def put(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:inventories:update")
        provider = self.provider(provider_uuid)
        data = self.body(Inventories)
        provider = services.inventories_set(
            provider=provider,
            generation=data["resource_provider_generation"],
            inventories={rc: _spec(values) for rc, values in data["inventories"].items()},
        )
        return Response(presenters.inventories(_rows(provider), provider.generation))

    @extend_schema(request=InventoryCreate)
    def post(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:inventories:create")
        provider = self.provider(provider_uuid)
        data = self.body(InventoryCreate)
        rc = data["resource_class"]
        provider = services.inventory_add(provider=provider, resource_class=rc, spec=_spec(data))
        row = next(inv for inv in _rows(provider) if inv.resource_class == rc)
        return Response(
            {**presenters.inventory(row), "resource_provider_generation": provider.generation},
            status=201,
            headers=self.location(f"{presenters.provider_path(provider.uuid)}/inventories/{rc}"),
        )

    def delete(self, request, provider_uuid: str):
        self.since("1.5", status=405)
        self.authorize("placement:resource_providers:inventories:delete")
        services.inventories_set(
            provider=self.provider(provider_uuid), generation=None, inventories={}
        )
        return Response(status=204)


class InventoryView(PlacementView):
    """GET, PUT, DELETE /resource_providers/{uuid}/inventories/{resource_class}"""

    def get(self, request, provider_uuid: str, resource_class: str):
        self.authorize("placement:resource_providers:inventories:show")
        provider = self.provider(provider_uuid)
        row = next((inv for inv in _rows(provider) if inv.resource_class == resource_class), None)
        if row is None:
            raise NotFound(f"No inventory of class {resource_class} for {provider.uuid}")
        return Response(
            {**presenters.inventory(row), "resource_provider_generation": provider.generation}
        )

    @extend_schema(request=InventoryUpdate)
    def put(self, request, provider_uuid: str, resource_class: str):
        self.authorize("placement:resource_providers:inventories:update")
        provider = self.provider(provider_uuid)
        data = self.body(InventoryUpdate)
        provider = services.inventory_update(
            provider=provider,
            generation=data["resource_provider_generation"],
            resource_class=resource_class,
            spec=_spec(data),
        )
        row = next(inv for inv in _rows(provider) if inv.resource_class == resource_class)
        return Response(
            {**presenters.inventory(row), "resource_provider_generation": provider.generation}
        )

    def delete(self, request, provider_uuid: str, resource_class: str):
        self.authorize("placement:resource_providers:inventories:delete")
        services.inventory_delete(
            provider=self.provider(provider_uuid), resource_class=resource_class
        )
        return Response(status=204)
