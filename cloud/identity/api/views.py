"""Keystone v3 discovery and tokens: issue (password, or re-scope with the token
method), validate and revoke."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound, Unauthorized
from cloud.api.schema import body, obj, string, wrapped
from cloud.api.views import base_url
from cloud.identity.api.presenters import token_shape
from cloud.identity.selectors import ValidToken, token_validate
from cloud.identity.services import (
    AuthenticationFailed,
    IssuedToken,
    token_digest,
    token_issue,
    token_rescope,
    token_revoke,
)
from cloud.identity.throttle import attempt_for
from cloud.identity.views import OpenStackView

VERSION_ID = "v3.14"
VERSION_UPDATED = "2020-04-07T00:00:00Z"
METHODS = {"password", "token"}


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

    @extend_schema(summary="Identity API versions", responses={300: dict})
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


def _authenticate(auth: dict, source: str) -> IssuedToken:
    identity = auth.get("identity")
    methods = identity.get("methods") if isinstance(identity, dict) else None
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise BadRequest("Expected auth.identity with a list of methods.")
    if not set(methods) <= METHODS or len(methods) != 1:
        raise Unauthorized("Attempted to authenticate with an unsupported method.")
    scope = auth.get("scope")
    if scope is not None and scope != "unscoped" and not isinstance(scope, dict):
        raise BadRequest("auth.scope must be an object.")
    if methods == ["token"]:
        token = identity.get("token")
        if not isinstance(token, dict) or not isinstance(token.get("id"), str):
            raise BadRequest("Expected auth.identity.token with an id.")
        return token_rescope(secret=token["id"], scope=scope)
    password = identity.get("password")
    user = password.get("user") if isinstance(password, dict) else None
    if not isinstance(user, dict) or not isinstance(user.get("password"), str):
        raise BadRequest("Expected auth.identity.password.user with a password.")
    _user_ref_check(user)
    attempt = attempt_for(user=user, source=source)
    attempt.check()
    try:
        issued = token_issue(
            username=user.get("name"),
            user_id=user.get("id"),
            domain=user.get("domain"),
            password=user["password"],
            scope=scope,
        )
    except AuthenticationFailed:
        attempt.failed()
        raise
    attempt.succeeded()
    return issued


def _user_ref_check(user: dict) -> None:
    """The user's id and name are strings, its domain an object of strings (400)."""
    for key in ("id", "name"):
        if user.get(key) is not None and not isinstance(user[key], str):
            raise BadRequest(f"auth.identity.password.user.{key} must be a string.")
    domain = user.get("domain")
    if domain is not None and (
        not isinstance(domain, dict)
        or any(v is not None and not isinstance(v, str) for v in domain.values())
    ):
        raise BadRequest("auth.identity.password.user.domain must be an object of strings.")


_NAMED = obj(
    {"id": string(64), "name": string(), "domain": obj({"id": string(64), "name": string()})},
    closed=False,
)
# POST /v3/auth/tokens: Keystone's auth object (password or token, and a scope).
AUTH = wrapped(
    "auth",
    obj(
        {
            "identity": obj(
                {
                    "methods": {
                        "type": "array",
                        "minItems": 1,
                        "items": string(64),
                    },
                    "password": obj(
                        {
                            "user": obj(
                                {**_NAMED["properties"], "password": string(4096)}, closed=False
                            )
                        },
                        "user",
                    ),
                    "token": obj({"id": string(4096)}, "id"),
                },
                "methods",
                closed=False,
            ),
            "scope": {
                "anyOf": [
                    {"enum": ["unscoped"]},
                    obj(
                        {"project": _NAMED, "domain": _NAMED, "system": {"type": "object"}},
                        closed=False,
                    ),
                ]
            },
        },
        "identity",
        closed=False,
    ),
)


class TokensView(OpenStackView):
    """POST issues a token; GET validates X-Subject-Token; DELETE revokes it.

    Anyone may validate or revoke their own tokens; the policy decides about others'.
    """

    def _issuing(self) -> bool:
        request = getattr(self, "request", None)
        return request is not None and request.method == "POST"

    def get_authenticators(self):
        return [] if self._issuing() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._issuing() else super().get_permissions()

    def _subject(self, rule: str) -> tuple[str, ValidToken]:
        secret = self.request.headers.get("X-Subject-Token", "")
        found = token_validate(digest=token_digest(secret)) if secret else None
        if found is None:
            raise NotFound("Could not find token.")
        self.authorize(rule, {"target.token.user_id": found.token.user_id})
        return secret, found

    @extend_schema(summary="Authenticate (password, or token to re-scope)", responses={201: dict})
    @body(AUTH)
    def post(self, request):
        auth = request.data.get("auth") if isinstance(request.data, dict) else None
        if not isinstance(auth, dict):
            raise BadRequest("Expected an auth object.")
        try:
            issued = _authenticate(auth, source=request.META.get("REMOTE_ADDR", ""))
        except AuthenticationFailed as exc:
            raise Unauthorized(str(exc)) from exc
        response = Response(
            token_shape(base_url(request), issued.token, issued.context, issued.methods),
            status=status.HTTP_201_CREATED,
        )
        response["X-Subject-Token"] = issued.secret
        return response

    @extend_schema(summary="Validate a token", responses={200: dict})
    def get(self, request):
        secret, found = self._subject("identity:validate_token")
        body = token_shape(
            base_url(request),
            found.token,
            found.context,
            found.methods,
            catalog="nocatalog" not in request.GET,
        )
        response = Response(body)
        response["X-Subject-Token"] = secret
        return response

    @extend_schema(summary="Revoke a token", responses={204: None})
    def delete(self, request):
        secret, _ = self._subject("identity:revoke_token")
        token_revoke(secret=secret)
        return Response(status=status.HTTP_204_NO_CONTENT)
