"""Base views for the OpenStack-shaped APIs."""

from django.conf import settings
from rest_framework.views import APIView

from cloud.api import microversions
from cloud.api.errors import BadRequest, NotAcceptable
from cloud.identity import policy
from cloud.identity.context import RequestContext


def base_url(request) -> str:
    """Where clients reach us: PUBLIC_ENDPOINT, else the URL this request came to."""
    return (settings.PUBLIC_ENDPOINT or request.build_absolute_uri("/")).rstrip("/")


class OpenStackView(APIView):
    """A view whose request.auth is a RequestContext."""

    @property
    def context(self) -> RequestContext:
        return self.request.auth

    def authorize(self, rule: str, target: dict | None = None) -> None:
        """403 unless the named policy rule allows the caller (target: own project by default)."""
        policy.authorize(self.context, rule, target)

    def allowed(self, rule: str, target: dict | None = None) -> bool:
        return policy.allowed(self.context, rule, target)


class ComputeView(OpenStackView):
    """Compute API view: negotiates the microversion before anything else."""

    def initial(self, request, *args, **kwargs):
        try:
            request.api_version = microversions.negotiate(request.headers)
        except microversions.UnsupportedVersion as exc:
            request.api_version = microversions.MIN
            raise NotAcceptable(str(exc)) from exc
        except microversions.InvalidVersion as exc:
            request.api_version = microversions.MIN
            raise BadRequest(str(exc)) from exc
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        version = getattr(request, "api_version", None)
        if version is not None:
            for name, value in microversions.response_headers(version).items():
                response[name] = value
        return response

    @property
    def version(self) -> microversions.APIVersion:
        return self.request.api_version
