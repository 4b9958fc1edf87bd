"""Keystone v3 domains: list, create, show, update, delete."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cloud.api.schema import enveloped
from cloud.identity import admin_selectors, admin_services
from cloud.identity.api.common import IdentityView, not_found, query_bool
from cloud.identity.api.presenters import domain_shape
from cloud.identity.api.serializers import DomainSerializer
from cloud.identity.models import Domain


def _target(domain: Domain | None) -> dict:
    return {"target.domain.id": domain.id} if domain else {}


class DomainsView(IdentityView):
    """GET /domains, POST /domains"""

    @extend_schema(summary="List domains", responses={200: dict})
    def get(self, request):
        self.authorize("identity:list_domains")
        domains = admin_selectors.domain_list(
            name=request.GET.get("name"), enabled=query_bool(request.GET, "enabled")
        )
        return Response(self.collection("domains", domains, domain_shape))

    @extend_schema(
        summary="Create a domain",
        request=enveloped("domain", DomainSerializer),
        responses={201: dict},
    )
    def post(self, request):
        self.authorize("identity:create_domain")
        domain = admin_services.domain_create(**self.entity("domain", DomainSerializer))
        return Response({"domain": domain_shape(self.base, domain)}, status=status.HTTP_201_CREATED)


class DomainView(IdentityView):
    """GET, PATCH, DELETE /domains/{domain_id}"""

    def _domain(self, rule: str, domain_id: str) -> Domain:
        domain = admin_selectors.domain_find(domain_id=domain_id)
        self.authorize(rule, _target(domain))
        if domain is None:
            raise not_found("domain", domain_id)
        return domain

    @extend_schema(summary="Show a domain", responses={200: dict})
    def get(self, request, domain_id: str):
        domain = self._domain("identity:get_domain", domain_id)
        return Response({"domain": domain_shape(self.base, domain)})

    @extend_schema(
        summary="Update a domain",
        request=enveloped("domain", DomainSerializer),
        responses={200: dict},
    )
    def patch(self, request, domain_id: str):
        domain = self._domain("identity:update_domain", domain_id)
        changes = self.entity("domain", DomainSerializer, entity_id=domain_id)
        domain = admin_services.domain_update(domain=domain, changes=changes)
        return Response({"domain": domain_shape(self.base, domain)})

    @extend_schema(summary="Delete a disabled domain", responses={204: None})
    def delete(self, request, domain_id: str):
        domain = self._domain("identity:delete_domain", domain_id)
        admin_services.domain_delete(domain=domain)
        return Response(status=status.HTTP_204_NO_CONTENT)
