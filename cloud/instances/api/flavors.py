"""Compute API: flavors (list, detail, show)."""

from rest_framework.response import Response

from cloud.api.pagination import next_link, paginate
from cloud.api.views import base_url
from cloud.identity.views import ComputeView
from cloud.instances import selectors
from cloud.instances.api.presenters import flavor_detail, flavor_summary


class _FlavorList(ComputeView):
    builder = staticmethod(flavor_summary)

    def get(self, request):
        qs = selectors.flavor_list(context=self.context, params=request.GET)
        rows, more = paginate(qs, request.GET)
        base = base_url(request)
        body = {"flavors": [self.builder(f, base, self.version) for f in rows]}
        if more:
            body["flavors_links"] = next_link(request, rows[-1].flavorid)
        return Response(body)


class FlavorListView(_FlavorList):
    """GET /flavors"""


class FlavorDetailListView(_FlavorList):
    """GET /flavors/detail"""

    builder = staticmethod(flavor_detail)


class FlavorView(ComputeView):
    """GET /flavors/{flavor_id}"""

    def get(self, request, flavor_id: str):
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        return Response({"flavor": flavor_detail(flavor, base_url(request), self.version)})
