"""Compute API version discovery, served without authentication."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api import microversions
from cloud.api.views import base_url
from cloud.identity.views import ComputeView

V21_UPDATED = "2013-07-23T11:33:21Z"


def _v21(request) -> dict:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": microversions.MAX_VERSION,
        "min_version": microversions.MIN_VERSION,
        "updated": V21_UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/compute/v2.1/"}],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


class _Anonymous(ComputeView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class ComputeVersionsView(_Anonymous):
    def get(self, request):
        v20 = {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base_url(request)}/compute/v2/"}],
        }
        return Response({"versions": [v20, _v21(request)]})


class ComputeV21View(_Anonymous):
    def get(self, request):
        return Response({"version": _v21(request)})
