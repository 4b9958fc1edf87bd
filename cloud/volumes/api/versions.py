"""Block-storage API versions: discovery (anonymous) and the volume microversion.

A request names its version with `OpenStack-API-Version: volume 3.X`; no header
means 3.0, `latest` the maximum, and one outside [3.0, 3.71] answers 406. 3.71 is
what openstacksdk 4.x (and so OSC) asks for its volumes.
"""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotAcceptable
from cloud.api.microversions import APIVersion, InvalidVersion
from cloud.api.views import base_url
from cloud.identity.views import OpenStackView

MIN_VERSION = "3.0"
MAX_VERSION = "3.71"
MIN = APIVersion.parse(MIN_VERSION)
MAX = APIVersion.parse(MAX_VERSION)
UPDATED = "2023-08-31T00:00:00Z"


def negotiate(headers) -> APIVersion:
    text = None
    for item in (headers.get("OpenStack-API-Version") or "").split(","):
        parts = item.strip().split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "volume":
            text = parts[1].strip()
    if text is None:
        return MIN
    if text.lower() == "latest":
        return MAX
    version = APIVersion.parse(text)
    if not MIN <= version <= MAX:
        raise NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
        )
    return version


class VolumeView(OpenStackView):
    """A block-storage view: negotiates the volume microversion before anything else
    and echoes it."""

    def initial(self, request, *args, **kwargs):
        request.api_version = MIN
        try:
            request.api_version = negotiate(request.headers)
        except InvalidVersion as exc:
            raise BadRequest(str(exc)) from exc
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        version = getattr(request, "api_version", None)
        if version is not None:
            response["OpenStack-API-Version"] = f"volume {version}"
            response["Vary"] = "OpenStack-API-Version"
        return response

    @property
    def version(self) -> APIVersion:
        return self.request.api_version


def _v3(request) -> dict:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/volume/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


class VolumeVersionsView(VolumeView):
    """GET /volume and /volume/v3/: the version list (anonymous), as Cinder answers it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"versions": [_v3(request)]})
