"""Placement API (1.6+): traits (list, check, create custom, delete custom) and the
traits of a provider (list, replace, remove all)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.placement import services, standard
from cloud.placement.api import query
from cloud.placement.api.base import PlacementView
from cloud.placement.api.presenters import PREFIX
from cloud.placement.api.serializers import ProviderTraits
from cloud.placement.selectors import trait_names, traits_of

INVALID_NAME = (
    "The trait is invalid. A valid trait must be no longer than 255 characters, start with "
    'the prefix "CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"'
)


class TraitListView(PlacementView):
    """GET /traits?name=startswith:CUSTOM_|in:A,B&associated=true|false"""

    def get(self, request):
        self.since("1.6")
        self.authorize("placement:traits:list")
        params = request.query_params
        query.checked(params, self.version, {"name": "1.6", "associated": "1.6"})
        prefix = names = associated = None
        if "name" in params:
            op, sep, value = params["name"].partition(":")
            if not sep or op not in ("in", "startswith"):
                raise BadRequest(
                    "Badly formatted name parameter. Expected name query string parameter in "
                    f'form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "{params["name"]}"'
                )
            prefix, names = (value, None) if op == "startswith" else (None, value.split(","))
        if "associated" in params:
            if params["associated"].lower() not in ("true", "false"):
                raise BadRequest('The query parameter "associated" only accepts "true" or "false"')
            associated = params["associated"].lower() == "true"
        return Response({"traits": trait_names(prefix=prefix, names=names, associated=associated)})


class TraitView(PlacementView):
    """GET, PUT, DELETE /traits/{name}"""

    def get(self, request, name: str):
        self.since("1.6")
        self.authorize("placement:traits:show")
        if not trait_names(names=[name]):
            raise NotFound(f"No such trait(s): {name}.")
        return Response(status=204)

    @extend_schema(request=None)
    def put(self, request, name: str):
        self.since("1.6")
        self.authorize("placement:traits:update")
        if not standard.is_custom(name):
            raise BadRequest(INVALID_NAME)
        created = services.trait_create(name=name)
        return Response(
            status=201 if created else 204, headers=self.location(f"{PREFIX}/traits/{name}")
        )

    def delete(self, request, name: str):
        self.since("1.6")
        self.authorize("placement:traits:delete")
        services.trait_delete(name=name)
        return Response(status=204)


class ProviderTraitsView(PlacementView):
    """GET, PUT, DELETE /resource_providers/{uuid}/traits"""

    def get(self, request, provider_uuid: str):
        self.since("1.6")
        self.authorize("placement:resource_providers:traits:list")
        provider = self.provider(provider_uuid)
        return Response(
            {
                "traits": traits_of(provider_ids=[provider.pk]).get(provider.pk, []),
                "resource_provider_generation": provider.generation,
            }
        )

    @extend_schema(request=ProviderTraits)
    def put(self, request, provider_uuid: str):
        self.since("1.6")
        self.authorize("placement:resource_providers:traits:update")
        provider = self.provider(provider_uuid)
        data = self.body(ProviderTraits)
        provider = services.provider_traits_set(
            provider=provider,
            generation=data["resource_provider_generation"],
            names=data["traits"],
        )
        return Response(
            {
                "traits": sorted(data["traits"]),
                "resource_provider_generation": provider.generation,
            }
        )

    def delete(self, request, provider_uuid: str):
        self.since("1.6")
        self.authorize("placement:resource_providers:traits:delete")
        services.provider_traits_set(
            provider=self.provider(provider_uuid), generation=None, names=[]
        )
        return Response(status=204)
