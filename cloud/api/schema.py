"""OpenAPI generation (drf-spectacular) for the OpenStack-shaped views.

The views build OpenStack bodies by hand (their shapes follow microversions),
so a body without a declared serializer is documented as a JSON object; the
token header and the microversion header are documented for every call.
"""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter


def drop_slash_aliases(endpoints):
    """`/compute/v2.1` and `/compute/v2.1/` are one resource: document it once."""
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]


class OpenStackSchema(AutoSchema):
    def get_operation_id(self):
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self.view).__name__).lower()
        return f"{name.removesuffix('_view')}_{self.method.lower()}"

    def _get_serializer(self):
        if hasattr(self.view, "serializer_class"):
            return self.view.serializer_class
        return OpenApiTypes.OBJECT

    def get_request_serializer(self):
        if self.method in ("GET", "DELETE", "HEAD"):
            return None
        return super().get_request_serializer()

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.path.startswith("/compute/v2.1/"):
            params.append(
                OpenApiParameter(
                    "OpenStack-API-Version",
                    str,
                    OpenApiParameter.HEADER,
                    description="Compute microversion, e.g. `compute 2.96` (default 2.1).",
                )
            )
        return params


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cloud.identity.authentication.TokenAuthentication"
    name = "KeystoneToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cloud.identity.authentication.ProjectSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
