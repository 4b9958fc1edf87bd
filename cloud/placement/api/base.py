"""What every placement API view shares: microversion negotiation and its headers,
Placement's error details per microversion, its caching headers, the provider lookup
and request body validation."""

from datetime import datetime

from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed

from cloud.api.errors import BadRequest, NotAcceptable, NotFound, flatten_detail
from cloud.api.microversions import APIVersion, InvalidVersion, UnsupportedVersion
from cloud.api.views import base_url
from cloud.identity.views import OpenStackView
from cloud.placement.api import microversion
from cloud.placement.models import ResourceProvider
from cloud.placement.selectors import (
    ProviderFilter,
    provider_get,
    resource_classes_unknown,
    traits_unknown,
)


class PlacementView(OpenStackView):
    """A placement API view. It may set `last_modified` for the Last-Modified header
    (1.15+); the current time is used otherwise, as Placement does."""

    last_modified: datetime | None = None

    def initial(self, request, *args, **kwargs):
        try:
            request.api_version = microversion.negotiate(request.headers)
        except UnsupportedVersion as exc:
            request.api_version = microversion.MIN
            raise NotAcceptable(str(exc)) from exc
        except InvalidVersion as exc:
            request.api_version = microversion.MIN
            raise BadRequest(str(exc)) from exc
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        version = getattr(request, "api_version", microversion.MIN)
        for name, value in microversion.response_headers(version).items():
            response[name] = value
        patch_vary_headers(response, [microversion.HEADER])
        if response.status_code >= 400:
            for error in (response.data or {}).get("errors", ()):
                if not version.at_least("1.23"):
                    error.pop("code", None)
                if response.status_code == 406:
                    error["max_version"] = str(microversion.MAX)
                    error["min_version"] = str(microversion.MIN)
        elif version.at_least("1.15") and (request.method == "GET" or response.data is not None):
            response["Cache-Control"] = "no-cache"
            response["Last-Modified"] = http_date(
                (self.last_modified or timezone.now()).timestamp()
            )
        return response

    @property
    def version(self) -> APIVersion:
        return self.request.api_version

    def since(self, version: str, status: int = 404) -> None:
        """The route does not exist before `version`: 404 (or 405 where Placement says so)."""
        if not self.version.at_least(version):
            if status == 405:
                raise MethodNotAllowed(self.request.method)
            raise NotFound("The resource could not be found.")

    def provider(self, provider_uuid: str) -> ResourceProvider:
        found = provider_get(provider_uuid=provider_uuid)
        if found is None:
            raise NotFound(f"No resource provider with uuid {provider_uuid} found")
        return found

    def known(self, filters: ProviderFilter) -> None:
        """400 for a resource class or trait in the filters that does not exist."""
        unknown = resource_classes_unknown(names=filters.resources)
        if unknown:
            raise BadRequest(
                "Invalid resource class in resources parameter: "
                f"No such resource class {', '.join(sorted(unknown))}."
            )
        unknown = traits_unknown(names={*filters.traits.names(), *filters.root_traits.names()})
        if unknown:
            raise BadRequest(
                'Invalid trait(s) in "required" parameter: '
                f"No such trait(s): {', '.join(sorted(unknown))}"
            )

    def body(self, serializer_class: type[serializers.Serializer], data=None) -> dict:
        """The request body (or `data`) validated by the serializer, at this microversion."""
        serializer = serializer_class(
            data=self.request.data if data is None else data, context={"version": self.version}
        )
        if not serializer.is_valid():
            raise BadRequest(f"JSON does not validate: {flatten_detail(serializer.errors)}")
        return serializer.validated_data

    def location(self, path: str) -> dict[str, str]:
        return {"Location": f"{base_url(self.request)}{path}"}
