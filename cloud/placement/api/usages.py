"""Placement API: what is used of a provider's inventories, and what a project (or a
user in it) holds across providers (1.9+; by consumer type from 1.38)."""

from rest_framework.response import Response

from cloud.api.errors import BadRequest
from cloud.placement.api import query
from cloud.placement.api.base import PlacementView
from cloud.placement.selectors import inventories_of, project_usages

# Consumer types are not stored, so every consumer has Placement's default type.
DEFAULT_CONSUMER_TYPE = "unknown"


class ProviderUsagesView(PlacementView):
    """GET /resource_providers/{uuid}/usages"""

    def get(self, request, provider_uuid: str):
        self.authorize("placement:resource_providers:usages")
        provider = self.provider(provider_uuid)
        rows = inventories_of(provider_ids=[provider.pk]).get(provider.pk, [])
        return Response(
            {
                "resource_provider_generation": provider.generation,
                "usages": {row.resource_class: row.used for row in rows},
            }
        )


class UsagesView(PlacementView):
    """GET /usages?project_id=&user_id=&consumer_type="""

    def get(self, request):
        self.since("1.9")
        self.authorize("placement:usages")
        params = request.query_params
        query.checked(
            params, self.version, {"project_id": "1.9", "user_id": "1.9", "consumer_type": "1.38"}
        )
        if "project_id" not in params:
            raise BadRequest("Invalid query string parameters: 'project_id' is a required property")
        usages, consumers = project_usages(
            project_id=params["project_id"], user_id=params.get("user_id")
        )
        if not self.version.at_least("1.38"):
            return Response({"usages": usages})
        kind = params.get("consumer_type")
        if not consumers or kind not in (None, "all", DEFAULT_CONSUMER_TYPE):
            return Response({"usages": {}})
        return Response(
            {"usages": {kind or DEFAULT_CONSUMER_TYPE: {"consumer_count": consumers, **usages}}}
        )
