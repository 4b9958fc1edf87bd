"""Placement API root: the version document, served without authentication."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.placement.api import microversion
from cloud.placement.api.base import PlacementView


class PlacementRootView(PlacementView):
    """GET /placement"""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(
            {
                "versions": [
                    {
                        "id": f"v{microversion.MIN}",
                        "max_version": str(microversion.MAX),
                        "min_version": str(microversion.MIN),
                        "status": "CURRENT",
                        # Relative on purpose, as Placement's: "this same URL".
                        "links": [{"rel": "self", "href": ""}],
                    }
                ]
            }
        )
