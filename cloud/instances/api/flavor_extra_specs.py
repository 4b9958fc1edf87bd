"""Compute API: a flavor's extra specs (Nova's os-extra_specs): list and show for
anyone who may see the flavor, set (merge), set one key and unset one key for admins.

Keys follow Nova's pattern and values are strings or numbers of 255 characters at
most (stored as strings); from 2.86 each spec is validated as Nova validates the
namespaces it knows (cloud.instances.extra_specs). Writes answer with the body sent,
as Nova does; an unset answers 200 with no body.
"""

from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.schema import body
from cloud.identity.views import ComputeView
from cloud.instances import flavors, selectors
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.flavor_bodies import wrapped
from cloud.instances.extra_specs import extra_specs_parse

RULE = "os_compute_api:os-flavor-extra-specs:%s"
NO_TARGET: dict = {}


class FlavorExtraSpecsView(ComputeView):
    """GET, POST /flavors/{flavor_id}/os-extra_specs"""

    def get(self, request, flavor_id: str):
        self.authorize(RULE % "index")
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        return Response({"extra_specs": flavor.extra_specs})

    @body(schemas.EXTRA_SPECS)
    def post(self, request, flavor_id: str):
        sent = wrapped(request.data, "extra_specs")
        specs = extra_specs_parse(sent, strict=False)
        self.authorize(RULE % "create", NO_TARGET)
        if self.version.at_least("2.86"):
            specs = extra_specs_parse(sent, strict=True)
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        flavors.flavor_extra_specs_set(flavor=flavor, specs=specs)
        return Response({"extra_specs": sent})


class FlavorExtraSpecView(ComputeView):
    """GET, PUT, DELETE /flavors/{flavor_id}/os-extra_specs/{key}"""

    def get(self, request, flavor_id: str, key: str):
        self.authorize(RULE % "show")
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        specs = flavor.extra_specs
        if key not in specs:
            raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return Response({key: specs[key]})

    @body(schemas.EXTRA_SPEC)
    def put(self, request, flavor_id: str, key: str):
        sent = request.data
        if not isinstance(sent, dict) or len(sent) != 1:
            raise BadRequest(
                f"Invalid input for field/attribute extra_specs. Value: {sent}. "
                "The body must hold exactly one extra spec"
            )
        specs = extra_specs_parse(sent, strict=False)
        self.authorize(RULE % "update", NO_TARGET)
        if self.version.at_least("2.86"):
            specs = extra_specs_parse(sent, strict=True)
        if key not in specs:
            raise BadRequest("Request body and URI mismatch")
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        flavors.flavor_extra_specs_set(flavor=flavor, specs=specs)
        return Response(sent)

    def delete(self, request, flavor_id: str, key: str):
        self.authorize(RULE % "delete", NO_TARGET)
        flavor = selectors.flavor_get(flavor_id=flavor_id, context=self.context)
        flavors.flavor_extra_spec_delete(flavor=flavor, key=key)
        return Response()
