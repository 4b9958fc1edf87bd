"""Glance v2 subset: version discovery, image list and show.

Glance answers with unwrapped image objects and string-keyed custom
properties at the top level; clients look images up by name through
`GET /v2/images?name=` and by ids through `?id=in:a,b`.
"""

from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api.errors import NotFound
from cloud.api.pagination import paginate
from cloud.api.views import base_url
from cloud.identity.views import OpenStackView
from cloud.images.api.presenters import image_body
from cloud.images.selectors import image_get, image_list


class ImageVersionsView(OpenStackView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        href = f"{base_url(request)}/image/v2/"
        versions = [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == 16 else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in range(16, -1, -1)
        ]
        return Response({"versions": versions}, status=status.HTTP_300_MULTIPLE_CHOICES)


class ImageListView(OpenStackView):
    """GET /v2/images"""

    def get(self, request):
        self.authorize("get_images")
        params = request.GET
        qs = image_list(context=self.context, params=params)
        rows, more = paginate(qs, params)
        body = {
            "images": [image_body(i) for i in rows],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if more:
            query = params.copy()
            query["marker"] = str(rows[-1].id)
            body["next"] = f"/v2/images?{query.urlencode()}"
        return Response(body)


class ImageView(OpenStackView):
    """GET /v2/images/{id}"""

    def get(self, request, image_id: str):
        self.authorize("get_image")
        image = image_get(image_id=image_id, context=self.context)
        if image is None:
            raise NotFound(f"No image found with ID {image_id}")
        return Response(image_body(image))
