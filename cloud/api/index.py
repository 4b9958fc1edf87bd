"""The root page: where each API lives (browsable, no authentication needed)."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cloud.api.views import base_url


class IndexView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        base = base_url(request)
        return Response(
            {
                "identity": f"{base}/identity/v3",
                "compute": f"{base}/compute/v2.1",
                "image": f"{base}/image",
                "admin": f"{base}/admin/",
                "login": f"{base}/api-auth/login/",
                "openapi": f"{base}/api/schema/",
                "docs": f"{base}/api/docs/",
            }
        )
