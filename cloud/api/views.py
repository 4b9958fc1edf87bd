"""What every OpenStack-shaped API view shares, whichever app serves it: the public
base URL and compute microversion negotiation. Who may call what is the identity
app's (cloud.identity.views); this kernel imports no app."""

from django.conf import settings

from cloud.api import microversions
from cloud.api.errors import BadRequest, NotAcceptable


def base_url(request) -> str:
    """Where clients reach us: PUBLIC_ENDPOINT, else the URL this request came to."""
    return (settings.PUBLIC_ENDPOINT or request.build_absolute_uri("/")).rstrip("/")


class MicroversionMixin:
    """For an APIView: negotiates the compute microversion before anything else and
    echoes it in the response headers."""

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
