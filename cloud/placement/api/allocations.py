"""Placement API: a consumer's allocations (show, replace, delete), several consumers'
at once (POST /allocations, 1.13+), and the allocations against a provider.

Writes are all-or-nothing and, from 1.28, checked against the consumer generation
the caller last saw (null for a consumer it expects to be new)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from cloud.api.errors import BadRequest
from cloud.api.parsing import is_uuid, parse_uuid
from cloud.api.schema import UUID
from cloud.placement import services
from cloud.placement.api import presenters
from cloud.placement.api.base import PlacementView
from cloud.placement.api.serializers import ConsumerAllocations, ManyConsumerAllocations
from cloud.placement.selectors import consumer_allocations, provider_allocations

# POST /allocations: {consumer uuid: what PUT /allocations/{uuid} takes}.
MANY_CONSUMERS = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": UUID,
    "additionalProperties": {"$ref": "#/components/schemas/ConsumerAllocations"},
}

# Placement's owner of allocations written before 1.8, which named none.
INCOMPLETE_CONSUMER = "00000000-0000-0000-0000-000000000000"


def _write(data: dict) -> services.ConsumerWrite:
    # consumer_type (1.38) and mappings (1.34) are validated but not kept: consumer types
    # are not stored, and Placement keeps no mappings either.
    return services.ConsumerWrite(
        project_id=data.get("project_id", INCOMPLETE_CONSUMER),
        user_id=data.get("user_id", INCOMPLETE_CONSUMER),
        allocations=data["allocations"],
        generation=data.get("consumer_generation"),
    )


def _consumer_uuid(value: str) -> str:
    if not is_uuid(value):
        raise BadRequest(f"Malformed consumer_uuid: {value}")
    return parse_uuid(value, name="consumer_uuid")


class ConsumerAllocationsView(PlacementView):
    """GET, PUT, DELETE /allocations/{consumer_uuid}"""

    def get(self, request, consumer_uuid: str):
        self.authorize("placement:allocations:list")
        rows, consumer = consumer_allocations(consumer_id=consumer_uuid)
        self.last_modified = max((row.created_at for row in rows), default=None)
        return Response(presenters.consumer_allocations(rows, consumer, self.version))

    @extend_schema(request=ConsumerAllocations)
    def put(self, request, consumer_uuid: str):
        self.authorize("placement:allocations:update")
        consumer_id = _consumer_uuid(consumer_uuid)
        data = self.body(ConsumerAllocations)
        services.allocations_write(
            consumers={consumer_id: _write(data)},
            check_generations=self.version.at_least("1.28"),
        )
        return Response(status=204)

    def delete(self, request, consumer_uuid: str):
        self.authorize("placement:allocations:delete")
        services.allocations_remove(consumer_id=consumer_uuid)
        return Response(status=204)


class AllocationsView(PlacementView):
    """POST /allocations: replace the allocations of several consumers together."""

    @extend_schema(request={"application/json": MANY_CONSUMERS})
    def post(self, request):
        self.since("1.13")
        self.authorize("placement:allocations:manage")
        if not isinstance(request.data, dict) or not request.data:
            raise BadRequest("JSON does not validate: expected an object of consumers")
        consumers = {
            _consumer_uuid(consumer_uuid): _write(self.body(ManyConsumerAllocations, data))
            for consumer_uuid, data in request.data.items()
        }
        services.allocations_write(
            consumers=consumers, check_generations=self.version.at_least("1.28")
        )
        return Response(status=204)


class ProviderAllocationsView(PlacementView):
    """GET /resource_providers/{uuid}/allocations"""

    def get(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:allocations:list")
        provider = self.provider(provider_uuid)
        held, generations = provider_allocations(provider=provider)
        with_generation = self.version.at_least("1.28")
        return Response(
            {
                "allocations": {
                    consumer_id: {
                        "resources": resources,
                        **(
                            {"consumer_generation": generations.get(consumer_id)}
                            if with_generation
                            else {}
                        ),
                    }
                    for consumer_id, resources in held.items()
                },
                "resource_provider_generation": provider.generation,
            }
        )
