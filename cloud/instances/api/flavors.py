"""Compute API: flavors (list, detail, show) and their management (Nova's
os-flavor-manage: create, delete, the 2.55 description update; admins only), the
access list of private flavors (os-flavor-access) and its actions.

Shapes and codes are Nova's: create answers 200 with the flavor, delete 202; a
private flavor is invisible (404) to projects it is not shared with; from 2.61 a
flavor shows its extra specs to those who may list them.
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.pagination import next_link, paginate
from cloud.api.schema import body
from cloud.api.views import base_url
from cloud.identity.views import ComputeView
from cloud.instances import flavors, selectors
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.flavor_bodies import (
    flavor_create_parse,
    flavor_update_parse,
    tenant_parse,
)
from cloud.instances.api.presenters import flavor_access_body, flavor_detail, flavor_summary
from cloud.instances.api.server_actions import EmptyAcceptNegotiation

MANAGE = "os_compute_api:os-flavor-manage:%s"
SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"
ACCESS = "os_compute_api:os-flavor-access"
NO_TARGET = {}


class FlavorBase(ComputeView):
    def show_specs(self) -> bool:
        """Whether flavors in the response carry their extra specs (2.61, per policy)."""
        return self.version.at_least("2.61") and self.allowed(SPECS_INDEX)

    def flavor_response(self, flavor) -> Response:
        body = flavor_detail(
            flavor, base_url(self.request), self.version, extra_specs=self.show_specs()
        )
        return Response({"flavor": body})


class _FlavorList(FlavorBase):
    detail = False

    def get(self, request):
        specs = self.detail and self.show_specs()
        qs = selectors.flavor_list(context=self.context, params=request.GET, with_specs=specs)
        rows, more = paginate(qs, request.GET)
        base = base_url(request)
        if self.detail:
            items = [flavor_detail(f, base, self.version, extra_specs=specs) for f in rows]
        else:
            items = [flavor_summary(f, base, self.version) for f in rows]
        body = {"flavors": items}
        if more:
            body["flavors_links"] = next_link(request, rows[-1].flavorid)
        return Response(body)


class FlavorListView(_FlavorList):
    """GET /flavors, POST /flavors (admin)"""

    @body(schemas.FLAVOR_CREATE)
    def post(self, request):
        spec = flavor_create_parse(request.data, self.version)
        self.authorize(MANAGE % "create", NO_TARGET)
        return self.flavor_response(flavors.flavor_create(spec=spec))


class FlavorDetailListView(_FlavorList):
    """GET /flavors/detail"""

    detail = True


class FlavorView(FlavorBase):
    """GET /flavors/{flavor_id}, PUT (2.55, admin: the description), DELETE (admin)"""

    def get(self, request, flavor_id: str):
        return self.flavor_response(selectors.flavor_get(flavor_id=flavor_id, context=self.context))

    @body(schemas.FLAVOR_UPDATE)
    def put(self, request, flavor_id: str):
        if not self.version.at_least("2.55"):
            raise NotFound("The resource could not be found.")
        description = flavor_update_parse(request.data)
        self.authorize(MANAGE % "update", NO_TARGET)
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        return self.flavor_response(
            flavors.flavor_description_set(flavor=flavor, description=description)
        )

    def delete(self, request, flavor_id: str):
        self.authorize(MANAGE % "delete", NO_TARGET)
        flavors.flavor_delete(flavor_id=flavor_id)
        return Response(status=status.HTTP_202_ACCEPTED)


class FlavorAccessView(FlavorBase):
    """GET /flavors/{flavor_id}/os-flavor-access (admin): who a private flavor is shared with."""

    def get(self, request, flavor_id: str):
        self.authorize(ACCESS)
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        if flavor.is_public:
            raise NotFound("Access list not available for public flavors.")
        return Response(flavor_access_body(flavor, selectors.flavor_access_list(flavor=flavor)))


class FlavorActionView(FlavorBase):
    """POST /flavors/{flavor_id}/action: addTenantAccess, removeTenantAccess (admin)."""

    content_negotiation_class = EmptyAcceptNegotiation

    @body(schemas.FLAVOR_ACTION)
    def post(self, request, flavor_id: str):
        data = request.data
        if not isinstance(data, dict) or len(data) != 1:
            raise BadRequest("The request body must be a JSON object naming one action.")
        ((name, body),) = data.items()
        if name == "addTenantAccess":
            tenant = tenant_parse(body, name)
            self.authorize(f"{ACCESS}:add_tenant_access", NO_TARGET)
            flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
            flavors.flavor_access_add(
                flavor=flavor, project_id=tenant, refuse_public=self.version.at_least("2.7")
            )
        elif name == "removeTenantAccess":
            tenant = tenant_parse(body, name)
            self.authorize(f"{ACCESS}:remove_tenant_access", NO_TARGET)
            flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
            flavors.flavor_access_remove(flavor=flavor, project_id=tenant)
        else:
            raise BadRequest(f"There is no such action: {name}")
        return Response(flavor_access_body(flavor, selectors.flavor_access_list(flavor=flavor)))
