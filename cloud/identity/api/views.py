"""Keystone v3 subset: version discovery and password tokens."""

from datetime import datetime

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound, Unauthorized
from cloud.api.views import OpenStackView, base_url
from cloud.identity.catalog import service_catalog
from cloud.identity.context import RequestContext
from cloud.identity.models import DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, Role
from cloud.identity.selectors import token_context
from cloud.identity.services import AuthenticationFailed, token_digest, token_issue, token_revoke

VERSION_ID = "v3.14"
VERSION_UPDATED = "2020-04-07T00:00:00Z"


def _keystone_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def version_document(request) -> dict:
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": VERSION_UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


class IdentityVersionsView(OpenStackView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Identity API versions")
    def get(self, request):
        return Response(
            {"versions": {"values": [version_document(request)]}},
            status=status.HTTP_300_MULTIPLE_CHOICES,
        )


class IdentityV3View(OpenStackView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Identity API v3 version document")
    def get(self, request):
        return Response({"version": version_document(request)})


def _token_body(request, context: RequestContext, issued_at: datetime | None) -> dict:
    domain = {"id": DEFAULT_DOMAIN_ID, "name": DEFAULT_DOMAIN_NAME}
    token = {
        "methods": ["password"],
        "user": {
            "id": context.user_id,
            "name": context.user_name,
            "domain": domain,
            "password_expires_at": None,
        },
        "audit_ids": [context.audit_id],
        "expires_at": _keystone_time(context.expires_at),
        "issued_at": _keystone_time(issued_at or context.expires_at),
    }
    if context.project_id:
        roles = dict(Role.objects.filter(name__in=context.roles).values_list("name", "id"))
        token.update(
            project={"id": context.project_id, "name": context.project_name, "domain": domain},
            is_domain=False,
            roles=[{"id": roles.get(name, name), "name": name} for name in context.roles],
            catalog=service_catalog(base_url(request)),
        )
    return {"token": token}


class TokensView(OpenStackView):
    """POST issues a token; GET validates X-Subject-Token; DELETE revokes it."""

    def _issuing(self) -> bool:
        request = getattr(self, "request", None)
        return request is not None and request.method == "POST"

    def get_authenticators(self):
        return [] if self._issuing() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._issuing() else super().get_permissions()

    @extend_schema(summary="Password authentication", request=dict, responses={201: dict})
    def post(self, request):
        auth = request.data.get("auth") if isinstance(request.data, dict) else None
        identity = auth.get("identity") if isinstance(auth, dict) else None
        if not isinstance(identity, dict) or "password" not in (identity.get("methods") or []):
            raise BadRequest("Expected auth.identity with the password method.")
        user = (identity.get("password") or {}).get("user")
        if not isinstance(user, dict) or not isinstance(user.get("password"), str):
            raise BadRequest("Expected auth.identity.password.user with a password.")
        scope = auth.get("scope")
        if scope is not None and not isinstance(scope, dict):
            raise BadRequest("auth.scope must be an object.")
        try:
            issued = token_issue(
                username=user.get("name"),
                user_id=user.get("id"),
                domain=user.get("domain"),
                password=user["password"],
                scope=scope,
            )
        except AuthenticationFailed as exc:
            raise Unauthorized(str(exc)) from exc
        response = Response(
            _token_body(request, issued.context, issued.issued_at), status=status.HTTP_201_CREATED
        )
        response["X-Subject-Token"] = issued.secret
        return response

    @extend_schema(summary="Validate a token", responses={200: dict})
    def get(self, request):
        secret = request.headers.get("X-Subject-Token", "")
        context = token_context(digest=token_digest(secret)) if secret else None
        if context is None:
            raise NotFound("Could not find token.")
        response = Response(_token_body(request, context, None))
        response["X-Subject-Token"] = secret
        return response

    @extend_schema(summary="Revoke a token", responses={204: None})
    def delete(self, request):
        secret = request.headers.get("X-Subject-Token", "")
        if not secret or not token_revoke(secret=secret):
            raise NotFound("Could not find token.")
        return Response(status=status.HTTP_204_NO_CONTENT)
